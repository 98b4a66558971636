// What the service sees across restarts, checked on real processes: its
// environment, signal mask and dispositions, stdout, what programs it runs
// inherit, and which binary a restart runs after a deploy.
#define CATCH_CONFIG_MAIN
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "service_fixture.h"
#include "test_env.h"

using namespace huptime::test;
namespace fs = std::filesystem;

namespace {

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

namespace {

// A connection to 127.0.0.1:port, or -1.
int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 &&
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

// Sends a request on fd and reads until EOF: true if EOF came within
// timeout_ms, with a response before it.
bool request_ends(int fd, int timeout_ms) {
  const char request[] = "GET / HTTP/1.0\r\n\r\n";
  if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof request - 1))
    return false;
  size_t got = 0;
  auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    end - std::chrono::steady_clock::now())
                    .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) return false;
    if (n == 0) return got > 0;
    got += static_cast<size_t>(n);
  }
}

}  // namespace

// The restart thread of a new generation polls the ready socket for the
// old generation's hang-up, and so does the program's thread in the
// hand-off barrier; the first to see it closes the socket. Its number then
// goes to the program's next connection: a poll that read the number
// before the close and waits after the reuse holds a reference to the
// connection's file, so the program's close() of the connection sent no
// FIN and its client waited for EOF until the poll returned (no later than
// the next SIGHUP, or never). A preloaded shim holds the restart thread at
// exactly that point.
TEST_CASE("a connection that gets the ready socket's fd number ends on close",
          "[behaviour]") {
  TempDir dir;
  int port = free_port();
  write_file(dir.path() + "/body", "hello\n");
  ServiceSpec spec;
  spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
  spec.command = {env_or_fail("SRV_THREADED"), "--listen",
                  "tcp:127.0.0.1:" + std::to_string(port), "--body-file",
                  dir.path() + "/body"};
  spec.cwd = dir.path();
  spec.env = {{"LD_PRELOAD", env_or_fail("READY_POLL_STALL")},
              {"HUPTIME_LOG", "info"}};
  spec.stdout_path = dir.path() + "/stdout.log";
  Service service(spec);
  REQUIRE(service.wait_ready());
  REQUIRE(service.reload());
  // The restart thread of the new generation is held in its first poll of
  // the ready socket.
  REQUIRE(service.saw_line(R"(ready_poll_stall: holding)", 5));
  // Connections fill the lowest free numbers, that of the ready socket
  // among them if it was closed under the restart thread.
  std::vector<int> conns;
  for (int i = 0; i < 8; ++i) {
    int fd = connect_to(port);
    REQUIRE(fd >= 0);
    conns.push_back(fd);
  }
  // Let the shim see the reuse (it looks every millisecond) and poll.
  usleep(300 * 1000);
  int without_eof = 0;
  for (int fd : conns) {
    if (!request_ends(fd, 2000)) ++without_eof;
    close(fd);
  }
  CHECK(without_eof == 0);
  CHECK(Service::get(port, "/") == "hello\n");
}
