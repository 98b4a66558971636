// lib/exec_image: COMMAND resolution at each restart, and the environment
// filters used by the exec hooks.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "exec_image.h"

using namespace huptime;

namespace {

// ------------------------------------------------ a fake file system seam

// AccessFn is a plain function pointer, so the fake lives in globals that
// each test case resets. Paths are normalized ("//" and "/./" folded) so the
// tests do not depend on how resolve_command spells a path.
std::map<std::string, int> g_files;  // path → access result
std::vector<std::string> g_asked;    // every path checked, in order

std::string normalize(std::string path) {
  for (size_t at; (at = path.find("/./")) != std::string::npos;)
    path.erase(at, 2);
  for (size_t at; (at = path.find("//")) != std::string::npos;)
    path.erase(at, 1);
  return path;
}

int fake_access(const char* path) {
  std::string p = normalize(path);
  g_asked.push_back(p);
  auto it = g_files.find(p);
  return it == g_files.end() ? ENOENT : it->second;
}

void fake_fs(std::map<std::string, int> files) {
  g_files = std::move(files);
  g_asked.clear();
}

struct Resolved {
  std::optional<std::string> path;
  int error = 0;
};

Resolved resolve(std::string_view argv0, std::string_view path_env,
                 std::string_view cwd = "/srv") {
  Resolved r;
  r.path = resolve_command(argv0, path_env, cwd, fake_access, &r.error);
  if (r.path) r.path = normalize(*r.path);
  return r;
}

using Strings = std::vector<std::string>;

// ------------------------------------------------ environment helpers

std::string strip(const char* value, const char* lib, size_t cap = 4096) {
  std::string out(cap + 4, '#');
  REQUIRE(strip_preload(value, lib, out.data(), cap));
  CHECK(out.substr(cap) == "####");
  out.resize(std::strlen(out.c_str()));  // up to the NUL strip_preload wrote
  return out;
}

struct Composed {
  bool ok = false;
  Strings env;  // up to the NULL
};

// compose_env over `envp`, with canaries after both buffers.
Composed compose(Strings envp, const EnvAdditions& add, size_t cap = 64,
                 size_t preload_cap = 4096) {
  std::vector<char*> ptrs;
  for (std::string& e : envp) ptrs.push_back(e.data());
  ptrs.push_back(nullptr);
  static const char kCanary[] = "canary";
  std::vector<const char*> out(cap + 2, kCanary);
  std::string preload(preload_cap + 4, '#');
  Composed c;
  c.ok = compose_env(ptrs.data(), add, out.data(), cap, preload.data(),
                     preload_cap);
  CHECK(out[cap] == kCanary);
  CHECK(preload.substr(preload_cap) == "####");
  if (!c.ok) return c;
  size_t n = 0;
  while (n < cap && out[n] != nullptr) c.env.emplace_back(out[n++]);
  REQUIRE(n < cap);  // NULL-terminated within cap
  return c;
}

const char* const kLib = "/usr/lib/huptime/libhuptime.so";

}  // namespace

// --------------------------------------------------------------- resolve

TEST_CASE("exec_image: commands with a slash are not searched", "[exec]") {
  fake_fs({{"/opt/app/server", 0}, {"/srv/bin/server", 0}});
  Resolved r = resolve("/opt/app/server", "/usr/bin");
  CHECK(r.path == "/opt/app/server");
  CHECK(g_asked == Strings{"/opt/app/server"});

  g_asked.clear();
  r = resolve("bin/server", "/usr/bin");
  CHECK(r.path == "/srv/bin/server");  // against the logical cwd
  CHECK(g_asked == Strings{"/srv/bin/server"});
  CHECK(resolve("./bin/server", "/usr/bin").path == "/srv/bin/server");
  CHECK(resolve("./bin/server", "", "/srv/").path == "/srv/bin/server");

  fake_fs({{"/srv/noexec", EACCES}, {"/srv/loop", ELOOP}, {"/srv/f", ENOTDIR}});
  r = resolve("./missing", "/usr/bin");
  CHECK_FALSE(r.path);
  CHECK(r.error == ENOENT);
  r = resolve("./noexec", "/usr/bin");
  CHECK_FALSE(r.path);
  CHECK(r.error == EACCES);
  CHECK(resolve("./f", "").error == ENOENT);     // ENOTDIR: not found
  CHECK(resolve("./loop", "").error == EACCES);  // anything else: 126
}

TEST_CASE("exec_image: PATH is searched in order", "[exec]") {
  fake_fs({{"/b/app", 0}, {"/c/app", 0}});
  Resolved r = resolve("app", "/a:/b:/c");
  CHECK(r.path == "/b/app");
  CHECK(g_asked == Strings{"/a/app", "/b/app"});

  // A non-executable hit is remembered, and the search goes on.
  fake_fs({{"/a/app", EACCES}, {"/c/app", 0}});
  r = resolve("app", "/a:/b:/c");
  CHECK(r.path == "/c/app");
  CHECK(g_asked == Strings{"/a/app", "/b/app", "/c/app"});

  r = resolve("other", "/a:/b:/c");
  CHECK_FALSE(r.path);
  CHECK(r.error == ENOENT);

  fake_fs({{"/a/app", EACCES}, {"/b/app", ENOTDIR}});
  r = resolve("app", "/a:/b:/c");
  CHECK_FALSE(r.path);
  CHECK(r.error == EACCES);  // found but not executable: 126
  CHECK(g_asked.size() == 3);

  fake_fs({{"/a/app", 0}});
  CHECK(resolve("app", "/a/").path == "/a/app");
  fake_fs({{"/srv/rel/app", 0}});
  CHECK(resolve("app", "/x:rel").path == "/srv/rel/app");  // relative entry

  fake_fs({});
  r = resolve("", "/a:/b");
  CHECK_FALSE(r.path);
  CHECK(r.error == ENOENT);
  CHECK(g_asked.empty());
}

TEST_CASE("exec_image: empty PATH entries mean the working directory",
          "[exec]") {
  fake_fs({{"/srv/app", 0}});
  for (const char* path_env : {":/a", "/a:", "/a::/b", "::"}) {
    INFO("PATH=" << path_env);
    g_asked.clear();
    CHECK(resolve("app", path_env).path == "/srv/app");
  }
  g_asked.clear();
  resolve("app", "/a::/b");
  CHECK(g_asked == Strings{"/a/app", "/srv/app"});
  g_asked.clear();
  resolve("nope", "/a:");
  CHECK(g_asked == Strings{"/a/nope", "/srv/nope"});
}

TEST_CASE("exec_image: an empty PATH means the default", "[exec]") {
  fake_fs({});
  Resolved r = resolve("app", "");
  CHECK_FALSE(r.path);
  CHECK(r.error == ENOENT);
  CHECK(g_asked == Strings{"/usr/local/bin/app", "/usr/bin/app", "/bin/app"});
}

TEST_CASE("exec_image: resolution against the real file system", "[exec]") {
  char dir_template[] = "/tmp/huptime-exec-test.XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  auto write = [&](const std::string& name, mode_t mode) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    REQUIRE(chmod(path.c_str(), mode) == 0);
    return path;
  };
  REQUIRE(mkdir((dir + "/d1").c_str(), 0755) == 0);
  REQUIRE(mkdir((dir + "/d2").c_str(), 0755) == 0);
  REQUIRE(mkdir((dir + "/subdir").c_str(), 0755) == 0);
  std::string script = write("script", 0755);
  std::string plain = write("plain", 0644);
  write("d1/tool", 0644);
  std::string tool = write("d2/tool", 0700);

  CHECK(check_executable(script.c_str()) == 0);
  CHECK(check_executable(plain.c_str()) == EACCES);
  CHECK(check_executable((dir + "/subdir").c_str()) == EACCES);
  CHECK(check_executable((dir + "/missing").c_str()) == ENOENT);
  CHECK(check_executable((plain + "/x").c_str()) == ENOTDIR);

  int error = 0;
  auto found = resolve_command(script, "", "/", check_executable, &error);
  CHECK(found == script);
  found = resolve_command("./script", "", dir, check_executable, &error);
  REQUIRE(found);
  CHECK(normalize(*found) == script);
  CHECK_FALSE(resolve_command(plain, "", "/", check_executable, &error));
  CHECK(error == EACCES);
  CHECK_FALSE(resolve_command("./subdir", "", dir, check_executable, &error));
  CHECK(error == EACCES);
  CHECK_FALSE(resolve_command("./missing", "", dir, check_executable, &error));
  CHECK(error == ENOENT);
  std::string search = dir + "/d1:" + dir + "/d2";
  found = resolve_command("tool", search, "/", check_executable, &error);
  CHECK(found == tool);
  CHECK_FALSE(resolve_command("subdir", dir, "/", check_executable, &error));
  CHECK(error == EACCES);

  std::string rm = "rm -rf '" + dir + "'";
  CHECK(std::system(rm.c_str()) == 0);
}

// ---------------------------------------------------------- strip_preload

TEST_CASE("exec_image: strip_preload", "[exec]") {
  CHECK(strip(kLib, kLib) == "");
  CHECK(strip("", kLib) == "");
  CHECK(strip(":: ", kLib) == "");
  CHECK(strip("/usr/lib/huptime/libhuptime.so:a.so", kLib) == "a.so");
  CHECK(strip("a.so:/usr/lib/huptime/libhuptime.so:b.so", kLib) == "a.so:b.so");
  CHECK(strip("a.so:b.so:/usr/lib/huptime/libhuptime.so", kLib) == "a.so:b.so");
  // The same file name in another directory is another copy of us.
  CHECK(strip("/opt/old/libhuptime.so:a.so", kLib) == "a.so");
  CHECK(strip("libhuptime.so a.so", kLib) == "a.so");
  CHECK(strip("/x/libhuptime.so", "libhuptime.so") == "");
  // Not us.
  CHECK(
      strip("/x/libhuptime.so.1:/x/xlibhuptime.so:/libhuptime.so/y.so", kLib) ==
      "/x/libhuptime.so.1:/x/xlibhuptime.so:/libhuptime.so/y.so");
  CHECK(strip("/x/libhuptime.s", kLib) == "/x/libhuptime.s");
  // Both separators are understood; ':' is written.
  CHECK(strip("a.so b.so:c.so", kLib) == "a.so:b.so:c.so");
  CHECK(strip("  a.so ::/usr/lib/huptime/libhuptime.so  b.so: ", kLib) ==
        "a.so:b.so");
}

TEST_CASE("exec_image: strip_preload needs room", "[exec]") {
  char out[16] = "untouched";
  CHECK_FALSE(strip_preload("a.so", kLib, out, 0));
  CHECK(std::string(out) == "untouched");
  CHECK_FALSE(strip_preload("a.so", kLib, out, 1));
  CHECK_FALSE(strip_preload("a.so", kLib, out, 4));
  CHECK_FALSE(strip_preload("a.so:b.so", kLib, out, 9));
  CHECK(strip("a.so:b.so", kLib, 10) == "a.so:b.so");
  CHECK(strip(kLib, kLib, 1) == "");  // nothing left needs just the NUL
}

// "Writes at most cap bytes (NUL included)": a result of n characters fits
// in n + 1 bytes. For the first entry kept, strip_preload asks for n + 2.
// compose_env asks for one byte more than LD_PRELOAD=...'s length plus NUL
// when it prepends our library, and two more when it does not.
TEST_CASE("exec_image: the LD_PRELOAD filters fit an exact buffer", "[exec]") {
  char out[16] = {};
  CHECK(strip_preload("a.so", kLib, out, 5));
  CHECK(std::string(out) == "a.so");
  CHECK(strip_preload("/usr/lib/huptime/libhuptime.so:a.so", kLib, out, 5));
  // compose_env inherits the extra byte (and wastes one more when there is
  // no library to prepend): LD_PRELOAD=a.so fits in 16 bytes.
  EnvAdditions none;
  Composed c = compose({"LD_PRELOAD=a.so"}, none, 8, 16);
  CHECK(c.ok);
  CHECK(c.env == Strings{"LD_PRELOAD=a.so"});
  EnvAdditions add;
  add.preload_lib = kLib;
  size_t exact = std::strlen("LD_PRELOAD=") + std::strlen(kLib) + 1;
  CHECK(compose({}, add, 8, exact).ok);
  CHECK(compose({"LD_PRELOAD=a.so"}, add, 8, exact + 5).ok);
}

// ------------------------------------------------------------ compose_env

TEST_CASE("exec_image: compose_env filters and adds", "[exec]") {
  const char* vars[] = {"HUPTIME_ARGV=3:app,", "HUPTIME_FDS=v1;pid=1;gen=2"};
  EnvAdditions add;
  add.preload_lib = kLib;
  add.vars = vars;
  add.n_vars = 2;
  Strings envp = {"PATH=/bin",
                  "HUPTIME_FDS=stale",
                  "HUPTIME_MODE=fork",
                  "HUPTIME_=x",
                  "LD_PRELOAD=/usr/lib/huptime/libhuptime.so:a.so",
                  "HUPTIMEX=kept",
                  "LD_PRELOADX=kept",
                  "X_HUPTIME_Y=kept",
                  "HOME=/root"};
  Composed c = compose(envp, add);
  REQUIRE(c.ok);
  CHECK(c.env == Strings{"PATH=/bin", "HUPTIMEX=kept", "LD_PRELOADX=kept",
                         "X_HUPTIME_Y=kept", "HOME=/root",
                         std::string("LD_PRELOAD=") + kLib + ":a.so", vars[0],
                         vars[1]});

  // Our library is put first, whatever the program's LD_PRELOAD held.
  const std::string ours = std::string("LD_PRELOAD=") + kLib;
  c = compose({"LD_PRELOAD=a.so b.so"}, add);
  CHECK(c.env == Strings{ours + ":a.so:b.so", vars[0], vars[1]});
  c = compose({"LD_PRELOAD=a.so:/old/libhuptime.so"}, add);
  CHECK(c.env == Strings{ours + ":a.so", vars[0], vars[1]});
  c = compose({"A=1"}, add);
  CHECK(c.env == Strings{"A=1", ours, vars[0], vars[1]});
  c = compose({"LD_PRELOAD="}, add);
  CHECK(c.env == Strings{ours, vars[0], vars[1]});
}

TEST_CASE("exec_image: compose_env without our library", "[exec]") {
  EnvAdditions none;
  Composed c = compose(
      {"A=1", "LD_PRELOAD=/usr/lib/huptime/libhuptime.so", "HUPTIME_LOG=debug"},
      none);
  REQUIRE(c.ok);
  CHECK(c.env == Strings{"A=1"});  // LD_PRELOAD left out when empty
  c = compose({"LD_PRELOAD=/x/libhuptime.so:a.so", "B=2"}, none);
  CHECK(c.env == Strings{"B=2", "LD_PRELOAD=a.so"});
  c = compose({}, none);
  REQUIRE(c.ok);
  CHECK(c.env.empty());
  // A null envp is an empty one.
  const char* out[4] = {"x", "x", "x", "x"};
  char preload[64];
  CHECK(compose_env(nullptr, none, out, 4, preload, sizeof preload));
  CHECK(out[0] == nullptr);
}

TEST_CASE("exec_image: compose_env reports what does not fit", "[exec]") {
  const char* vars[] = {"HUPTIME_ARGV=3:app,"};
  EnvAdditions add;
  add.preload_lib = kLib;
  add.vars = vars;
  add.n_vars = 1;
  Strings envp = {"A=1", "B=2", "HUPTIME_FDS=x", "LD_PRELOAD=a.so"};
  // A, B, LD_PRELOAD, HUPTIME_ARGV and the NULL: 5 pointers.
  CHECK(compose(envp, add, 5).ok);
  for (size_t cap : {0, 1, 2, 3, 4}) {
    INFO("cap " << cap);
    CHECK_FALSE(compose(envp, add, cap).ok);
  }
  // The LD_PRELOAD buffer.
  size_t needed = std::strlen("LD_PRELOAD=") + std::strlen(kLib) + 1;
  CHECK(compose({}, add, 8, needed + 1).ok);
  for (size_t preload_cap :
       {size_t{0}, size_t{5}, size_t{11}, size_t{12}, needed - 1}) {
    INFO("preload_cap " << preload_cap);
    CHECK_FALSE(compose({}, add, 8, preload_cap).ok);
  }
  CHECK_FALSE(compose({"LD_PRELOAD=a.so"}, add, 8, needed + 1).ok);
  CHECK(compose({"LD_PRELOAD=a.so"}, add, 8, needed + 6).ok);
}

// "at most cap pointers including the NULL": with cap 0 not even the NULL
// fits, yet compose_env writes it to out[0] and reports success.
TEST_CASE("exec_image: compose_env with no room at all", "[exec]") {
  EnvAdditions none;
  const char* out[2] = {"canary", "canary"};
  char preload[64];
  CHECK_FALSE(compose_env(nullptr, none, out, 0, preload, sizeof preload));
  CHECK(out[0] != nullptr);
}

TEST_CASE("exec_image: ExecImage::seal", "[exec]") {
  ExecImage image;
  image.argv = {"app", "--flag"};
  image.env = {"A=1"};
  image.seal();
  REQUIRE(image.argv_ptrs.size() == 3);
  CHECK(std::string(image.argv_ptrs[1]) == "--flag");
  CHECK(image.argv_ptrs[2] == nullptr);
  REQUIRE(image.env_ptrs.size() == 2);
  CHECK(image.env_ptrs[0] == image.env[0].data());
  CHECK(image.env_ptrs[1] == nullptr);
  image.env.push_back("B=2");
  image.seal();  // resealing starts over
  CHECK(image.env_ptrs.size() == 3);
  CHECK(image.argv_ptrs.size() == 3);
}
