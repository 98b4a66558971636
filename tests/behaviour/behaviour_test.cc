// What the service sees across restarts, checked on real processes: its
// environment, signal mask and dispositions, stdout, what programs it runs
// inherit, and which binary a restart runs after a deploy.
#define CATCH_CONFIG_MAIN
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "service_fixture.h"

using namespace huptime::test;
namespace fs = std::filesystem;

namespace {

std::string env_or_fail(const char* name) {
  const char* v = getenv(name);
  if (!v) FAIL(name << " is not set (run through meson test)");
  return v;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned long hex(const std::string& s) { return std::stoul(s, nullptr, 16); }

constexpr unsigned long bit(int sig) { return 1ul << (sig - 1); }

}  // namespace

TEST_CASE("each generation sees environment and signals as at first start",
          "[behaviour]") {
  for (std::string mode : {"fork", "exec"}) {
    SECTION(mode) {
      TempDir dir;
      int port = free_port();
      write_file(dir.path() + "/VERSION", "1");
      ServiceSpec spec;
      spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
      spec.mode = mode;
      spec.command = {env_or_fail("SRV_REPORT"), std::to_string(port),
                      "VERSION"};
      spec.cwd = dir.path();
      spec.env = {{"USER_VAR", "hello"},
                  {"LD_PRELOAD", "libm.so.6"},
                  {"HUPTIME_LOG", "info"}};
      spec.blocked = {SIGUSR1};
      spec.ignored = {SIGUSR2};
      spec.stdout_path = dir.path() + "/stdout.log";
      Service service(spec);
      REQUIRE(service.wait_ready());
      auto first = parse_report(Service::get(port, "/report"));
      REQUIRE(first.count("sigblk"));
      pid_t first_pid = service.leader();
      for (int reload = 1; reload <= 3; ++reload) {
        write_file(dir.path() + "/VERSION", std::to_string(reload + 1));
        REQUIRE(service.reload());
        auto r = parse_report(Service::get(port, "/report"));
        INFO("generation " << reload + 1 << " in " << mode << " mode");
        CHECK(r["version"] == std::to_string(reload + 1));
        CHECK(r["huptime_vars"] == "0");
        CHECK(r["preload"] == "libm.so.6");
        CHECK(r["user_var"] == "hello");
        // The previous generation's own changes do not leak into the next.
        CHECK(r["program_var_at_start"] == "0");
        CHECK(r["sigblk"] == first["sigblk"]);
        CHECK(r["sigign"] == first["sigign"]);
        CHECK((hex(r["sigblk"]) & bit(SIGUSR1)) != 0);  // from the launch
        CHECK((hex(r["sigblk"]) & bit(SIGINT)) != 0);   // the program's own
        CHECK((hex(r["sigblk"]) & bit(SIGHUP)) == 0);
        CHECK((hex(r["sigign"]) & bit(SIGUSR2)) != 0);
        // Programs the service runs do not inherit huptime or listeners.
        CHECK(r["child_preload"] == "libm.so.6");
        CHECK(r["child_huptime_vars"] == "0");
        CHECK(r["child_sockets"] == "0");
        if (mode == "exec")
          CHECK(std::stoi(r["pid"]) == first_pid);
        else
          CHECK(std::stoi(r["pid"]) != first_pid);
      }
      // stdout was shared and appended to, never rewound.
      std::string out = read_file(spec.stdout_path);
      std::regex start_line("start pid=\\d+ version=(\\d)");
      auto begin = std::sregex_iterator(out.begin(), out.end(), start_line);
      std::string versions;
      for (auto it = begin; it != std::sregex_iterator(); ++it)
        versions += (*it)[1].str();
      CHECK(versions == "1234");
    }
  }
}

TEST_CASE("a symlink-flip deploy runs the new release", "[behaviour]") {
  for (std::string mode : {"fork", "exec"}) {
    SECTION(mode) {
      TempDir dir;
      int port = free_port();
      for (int release : {1, 2}) {
        std::string rel = dir.path() + "/releases/" + std::to_string(release);
        fs::create_directories(rel);
        fs::copy_file(env_or_fail("SRV_REPORT"), rel + "/server");
        write_file(rel + "/VERSION", "release" + std::to_string(release));
      }
      std::string current = dir.path() + "/current";
      fs::create_directory_symlink("releases/1", current);
      ServiceSpec spec;
      spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
      spec.mode = mode;
      spec.command = {"./server", std::to_string(port), "VERSION"};
      spec.cwd = current;
      spec.env = {{"PWD", current}};
      spec.stdout_path = dir.path() + "/stdout.log";
      Service service(spec);
      REQUIRE(service.wait_ready());
      CHECK(parse_report(Service::get(port, "/report"))["version"] ==
            "release1");
      // Flip atomically, as deploy tools do.
      fs::create_directory_symlink("releases/2", current + ".new");
      fs::rename(current + ".new", current);
      REQUIRE(service.reload());
      auto r = parse_report(Service::get(port, "/report"));
      CHECK(r["version"] == "release2");
      CHECK(r["cwd"] == dir.path() + "/releases/2");
      CHECK(r["exe"] == dir.path() + "/releases/2/server");
    }
  }
}

TEST_CASE("a binary replaced by an upgrade is the one restarted",
          "[behaviour]") {
  for (std::string mode : {"fork", "exec"}) {
    SECTION(mode) {
      TempDir dir;
      int port = free_port();
      std::string bin = dir.path() + "/server";
      fs::copy_file(env_or_fail("SRV_REPORT"), bin);
      ServiceSpec spec;
      spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
      spec.mode = mode;
      spec.command = {bin, std::to_string(port)};
      spec.cwd = dir.path();
      spec.stdout_path = dir.path() + "/stdout.log";
      Service service(spec);
      REQUIRE(service.wait_ready());
      auto before = parse_report(Service::get(port, "/report"));
      // A package manager writes the new file beside it and renames it over.
      fs::copy_file(env_or_fail("SRV_REPORT"), bin + ".dpkg-new");
      fs::rename(bin + ".dpkg-new", bin);
      struct stat st {};
      REQUIRE(stat(bin.c_str(), &st) == 0);
      REQUIRE(std::to_string(st.st_ino) != before["exe_inode"]);
      REQUIRE(service.reload());
      auto after = parse_report(Service::get(port, "/report"));
      CHECK(after["exe_inode"] == std::to_string(st.st_ino));
      CHECK(after["exe"] == bin);
    }
  }
}
