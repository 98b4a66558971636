// Unit tests for the launcher's pure modules (launcher/*.h): option parsing,
// COMMAND lookup, ELF inspection, library lookup, the launch environment,
// the recorded process state and the help text. Filesystem cases run in a
// private mkdtemp() directory.
#define CATCH_CONFIG_MAIN
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "help.h"
#include "launch_env.h"
#include "library_path.h"
#include "options.h"
#include "paths.h"
#include "process_state.h"
#include "resolve.h"
#include "static_elf.h"

using namespace huptime;

namespace {

ParseResult parse(std::vector<const char*> args,
                  std::string_view cwd = "/srv/app") {
  return parse_options(args, cwd);
}

std::vector<std::string> strings(std::vector<const char*> items) {
  return {items.begin(), items.end()};
}

// A scratch directory, removed (with its contents) at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/huptime-launcher-test.XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

  std::string write(std::string_view name, std::string_view content,
                    mode_t mode) const {
    std::string file = *this / name;
    std::ofstream out(file, std::ios::binary);
    out << content;
    out.close();
    REQUIRE(chmod(file.c_str(), mode) == 0);
    return file;
  }

  std::string mkdir(std::string_view name) const {
    std::string dir = *this / name;
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    return dir;
  }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const unsigned char> as_bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// A minimal native ELF image: header, then `types.size()` program headers.
template <typename Ehdr, typename Phdr>
std::string synthetic_elf(unsigned char elf_class, uint16_t type,
                          const std::vector<uint32_t>& types) {
  Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = elf_class;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = type;
  header.e_version = EV_CURRENT;
  header.e_phoff = sizeof(Ehdr);
  header.e_ehsize = sizeof(Ehdr);
  header.e_phentsize = sizeof(Phdr);
  header.e_phnum = static_cast<uint16_t>(types.size());
  std::string image(reinterpret_cast<const char*>(&header), sizeof header);
  for (uint32_t p_type : types) {
    Phdr phdr{};
    phdr.p_type = p_type;
    image.append(reinterpret_cast<const char*>(&phdr), sizeof phdr);
  }
  return image;
}

std::string elf64(std::vector<uint32_t> types, uint16_t type = ET_EXEC) {
  return synthetic_elf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, type, types);
}

std::string elf32(std::vector<uint32_t> types, uint16_t type = ET_EXEC) {
  return synthetic_elf<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, type, types);
}

// Rewrites every PT_INTERP of a native 64-bit ELF image into PT_NULL: the
// program headers of a static executable, from a real dynamic one.
std::string strip_interp(std::string image) {
  Elf64_Ehdr header;
  REQUIRE(image.size() >= sizeof header);
  std::memcpy(&header, image.data(), sizeof header);
  REQUIRE(header.e_ident[EI_CLASS] == ELFCLASS64);
  for (size_t i = 0; i < header.e_phnum; ++i) {
    size_t at = header.e_phoff + i * sizeof(Elf64_Phdr);
    Elf64_Phdr phdr;
    std::memcpy(&phdr, image.data() + at, sizeof phdr);
    if (phdr.p_type == PT_INTERP) phdr.p_type = PT_NULL;
    std::memcpy(image.data() + at, &phdr, sizeof phdr);
  }
  return image;
}

}  // namespace

// ---------------------------------------------------------------- options

TEST_CASE("options: a bare COMMAND gets the defaults", "[options]") {
  ParseResult r = parse({"app"});
  REQUIRE(r.error.empty());
  CHECK(r.options.action == Action::kRun);
  CHECK(r.options.mode == Mode::kFork);
  CHECK(r.options.unlink.empty());
  CHECK_FALSE(r.options.log_level.has_value());
  CHECK(r.options.command == strings({"app"}));
}

TEST_CASE("options: --fork and --exec choose the mode", "[options]") {
  CHECK(parse({"--fork", "app"}).options.mode == Mode::kFork);
  CHECK(parse({"--exec", "app"}).options.mode == Mode::kExec);
  CHECK(parse({"--exec", "--exec", "app"}).options.mode == Mode::kExec);
  ParseResult both = parse({"--fork", "--exec", "app"});
  CHECK(both.error == "--fork and --exec cannot be used together");
  CHECK(parse({"--exec", "--fork", "app"}).error ==
        "--fork and --exec cannot be used together");
}

TEST_CASE("options: --unlink in both forms, made absolute", "[options]") {
  ParseResult r = parse({"--unlink=run/app.pid", "--unlink", "/var/run//x.pid",
                         "--unlink=../other/./y", "app"});
  REQUIRE(r.error.empty());
  CHECK(r.options.unlink ==
        strings({"/srv/app/run/app.pid", "/var/run/x.pid", "/srv/other/y"}));
  CHECK(r.options.command == strings({"app"}));
}

TEST_CASE("options: a separate value may start with a dash", "[options]") {
  ParseResult r = parse({"--unlink", "-odd", "app"});
  REQUIRE(r.error.empty());
  CHECK(r.options.unlink == strings({"/srv/app/-odd"}));
}

TEST_CASE("options: log level from --debug and --log-level", "[options]") {
  CHECK(parse({"--debug", "app"}).options.log_level == LogLevel::kDebug);
  CHECK(parse({"--log-level=trace", "app"}).options.log_level ==
        LogLevel::kTrace);
  CHECK(parse({"--log-level", "error", "app"}).options.log_level ==
        LogLevel::kError);
  CHECK(parse({"--log-level=warn", "app"}).options.log_level ==
        LogLevel::kWarn);
  CHECK(parse({"--log-level=info", "app"}).options.log_level ==
        LogLevel::kInfo);
  // The last one given wins.
  CHECK(parse({"--debug", "--log-level=error", "app"}).options.log_level ==
        LogLevel::kError);
  CHECK(parse({"--log-level=error", "--debug", "app"}).options.log_level ==
        LogLevel::kDebug);
  CHECK(parse({"--log-level=loud", "app"}).error ==
        "invalid log level 'loud' (expected error, warn, info, debug or "
        "trace)");
}

TEST_CASE("options: --help, -h and --version stop parsing", "[options]") {
  CHECK(parse({"--help"}).options.action == Action::kHelp);
  CHECK(parse({"-h"}).options.action == Action::kHelp);
  CHECK(parse({"--exec", "--help", "--bogus"}).options.action == Action::kHelp);
  CHECK(parse({"--help"}).error.empty());
  CHECK(parse({"--version"}).options.action == Action::kVersion);
  CHECK(parse({"--version"}).error.empty());
}

TEST_CASE("options: parsing stops at the first non-option", "[options]") {
  ParseResult r = parse({"--exec", "app", "--fork", "--help", "-x", "--"});
  REQUIRE(r.error.empty());
  CHECK(r.options.mode == Mode::kExec);
  CHECK(r.options.action == Action::kRun);
  CHECK(r.options.command == strings({"app", "--fork", "--help", "-x", "--"}));
  CHECK(parse({"-", "x"}).options.command == strings({"-", "x"}));
}

TEST_CASE("options: -- ends the options", "[options]") {
  ParseResult r = parse({"--debug", "--", "--fork", "x"});
  REQUIRE(r.error.empty());
  CHECK(r.options.mode == Mode::kFork);
  CHECK(r.options.log_level == LogLevel::kDebug);
  CHECK(r.options.command == strings({"--fork", "x"}));
}

TEST_CASE("options: errors", "[options]") {
  CHECK(parse({"--bogus", "app"}).error == "unrecognized option '--bogus'");
  CHECK(parse({"--bogus=1", "app"}).error == "unrecognized option '--bogus'");
  CHECK(parse({"-x", "app"}).error == "unrecognized option '-x'");
  CHECK(parse({"--forkk", "app"}).error == "unrecognized option '--forkk'");
  CHECK(parse({"--for", "app"}).error == "unrecognized option '--for'");
  CHECK(parse({"--fork=yes", "app"}).error ==
        "option '--fork' doesn't allow an argument");
  CHECK(parse({"--unlink"}).error == "option '--unlink' requires an argument");
  CHECK(parse({"--log-level"}).error ==
        "option '--log-level' requires an argument");
  CHECK(parse({"--unlink=", "app"}).error ==
        "option '--unlink' requires a non-empty argument");
  CHECK(parse({}).error == "missing COMMAND");
  CHECK(parse({"--exec"}).error == "missing COMMAND");
  CHECK(parse({"--"}).error == "missing COMMAND");
  CHECK(parse({"--unlink", "x.pid"}).error == "missing COMMAND");
}

TEST_CASE("options: effective log level", "[options]") {
  std::string error;
  CHECK(effective_log_level(LogLevel::kTrace, "warn", &error) ==
        LogLevel::kTrace);
  CHECK(effective_log_level(LogLevel::kTrace, "bogus", &error) ==
        LogLevel::kTrace);
  CHECK(effective_log_level(std::nullopt, "warn", &error) == LogLevel::kWarn);
  CHECK(effective_log_level(std::nullopt, nullptr, &error) == LogLevel::kInfo);
  CHECK(error.empty());
  CHECK_FALSE(effective_log_level(std::nullopt, "LOUD", &error).has_value());
  CHECK(error ==
        "invalid HUPTIME_LOG='LOUD' in the environment (expected error, warn, "
        "info, debug or trace)");
}

// ------------------------------------------------------------------ paths

TEST_CASE("paths: lexical normalization", "[paths]") {
  CHECK(normalize_path("/a//b/./c/../d/") == "/a/b/d");
  CHECK(normalize_path("/../..") == "/");
  CHECK(normalize_path("/") == "/");
  CHECK(normalize_path("") == ".");
  CHECK(normalize_path("a/..") == ".");
  CHECK(normalize_path("../a/../../b") == "../../b");
  CHECK(absolute_path("/srv", "x/../y") == "/srv/y");
  CHECK(absolute_path("/srv", "/etc//z") == "/etc/z");
  CHECK(dirname("/a/b/c") == "/a/b");
  CHECK(dirname("/a") == "/");
  CHECK(dirname("a") == ".");
  CHECK(relative_path("/usr/bin", "/usr/lib/huptime") == "../lib/huptime");
  CHECK(relative_path("/usr/bin", "/usr/bin") == ".");
  CHECK(relative_path("/usr", "/usr/lib") == "lib");
  CHECK(relative_path("/opt/x/bin", "/usr/lib") == "../../../usr/lib");
  CHECK(has_no_dot_components("/srv/app"));
  CHECK_FALSE(has_no_dot_components("/srv/./app"));
  CHECK_FALSE(has_no_dot_components("/srv/../app"));
  CHECK(has_no_dot_components("/srv/.hidden/..x"));
}

// ---------------------------------------------------------------- resolve

TEST_CASE("resolve: COMMAND with a slash is taken as a path", "[resolve]") {
  TempDir tmp;
  std::string exe = tmp.write("exe", "#!/bin/sh\n", 0755);
  std::string plain = tmp.write("plain", "data\n", 0644);
  std::string dir = tmp.mkdir("dir");

  CHECK(resolve_command(exe, "").error == 0);
  CHECK(resolve_command(exe, "").path == exe);

  Resolution r = resolve_command(plain, "/bin");
  CHECK(r.error == EACCES);
  CHECK(exit_status_for_errno(r.error) == 126);
  CHECK(resolution_message(plain, r) ==
        plain + ": cannot execute: Permission denied");

  r = resolve_command(dir, "/bin");
  CHECK(r.error == EISDIR);
  CHECK(exit_status_for_errno(r.error) == 126);
  CHECK(resolution_message(dir, r) == dir + ": cannot execute: Is a directory");

  std::string missing = tmp / "missing";
  r = resolve_command(missing, "/bin");
  CHECK(r.error == ENOENT);
  CHECK(exit_status_for_errno(r.error) == 127);
  CHECK(resolution_message(missing, r) ==
        missing + ": No such file or directory");

  r = resolve_command(plain + "/x", "/bin");
  CHECK(r.error == ENOTDIR);
  CHECK(exit_status_for_errno(r.error) == 126);
}

TEST_CASE("resolve: a bare name is searched in PATH", "[resolve]") {
  TempDir tmp;
  std::string a = tmp.mkdir("a");
  std::string b = tmp.mkdir("b");
  tmp.write("a/tool", "#!/bin/sh\n", 0644);  // found first, not executable
  tmp.write("b/tool", "#!/bin/sh\n", 0755);  // the one to run
  tmp.write("b/only-plain", "x\n", 0644);
  tmp.mkdir("a/sub");
  tmp.write("b/sub", "#!/bin/sh\n", 0755);  // a directory is skipped
  tmp.mkdir("a/dironly");
  std::string search = a + ":" + tmp.path() + "/nonexistent:" + b;

  Resolution r = resolve_command("tool", search);
  CHECK(r.error == 0);
  CHECK(r.path == b + "/tool");

  r = resolve_command("sub", search);
  CHECK(r.error == 0);
  CHECK(r.path == b + "/sub");

  r = resolve_command("only-plain", search);
  CHECK(r.error == EACCES);
  CHECK(r.path == b + "/only-plain");
  CHECK(exit_status_for_errno(r.error) == 126);

  r = resolve_command("dironly", search);
  CHECK(r.error == ENOENT);
  CHECK(resolution_message("dironly", r) == "dironly: command not found");

  r = resolve_command("nosuchcmd", search);
  CHECK(r.error == ENOENT);
  CHECK(exit_status_for_errno(r.error) == 127);
  CHECK(resolution_message("nosuchcmd", r) == "nosuchcmd: command not found");

  CHECK(resolve_command("", search).error == ENOENT);
  CHECK(resolve_command("sh", kDefaultSearchPath).error == 0);
}

TEST_CASE("resolve: an empty PATH entry is the working directory",
          "[resolve]") {
  TempDir tmp;
  tmp.write("here", "#!/bin/sh\n", 0755);
  char saved[PATH_MAX];
  REQUIRE(getcwd(saved, sizeof saved) != nullptr);
  REQUIRE(chdir(tmp.path().c_str()) == 0);
  Resolution r1 = resolve_command("here", "/nonexistent:");
  Resolution r2 = resolve_command("here", "");
  Resolution r3 = resolve_command("here", "/nonexistent");
  REQUIRE(chdir(saved) == 0);
  CHECK(r1.error == 0);
  CHECK(r1.path == "./here");
  CHECK(r2.error == 0);
  CHECK(r3.error == ENOENT);
}

// -------------------------------------------------------------------- elf

TEST_CASE("elf: synthetic 64-bit headers", "[elf]") {
  std::string static_exe = elf64({PT_LOAD, PT_LOAD, PT_GNU_STACK});
  std::string dynamic_exe = elf64({PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC});
  CHECK(elf_is_static(as_bytes(static_exe)));
  CHECK_FALSE(elf_is_static(as_bytes(dynamic_exe)));
  CHECK(elf_bytes_needed(as_bytes(static_exe)) == static_exe.size());
  // static-pie: ET_DYN without an interpreter.
  CHECK(elf_is_static(as_bytes(elf64({PT_LOAD}, ET_DYN))));
  CHECK_FALSE(elf_is_static(as_bytes(elf64({PT_LOAD}, ET_REL))));
  CHECK_FALSE(elf_is_static(as_bytes(elf64({}))));
  CHECK(elf_bytes_needed(as_bytes(elf64({}))) == 0);
}

TEST_CASE("elf: synthetic 32-bit headers", "[elf]") {
  std::string static_exe = elf32({PT_LOAD});
  CHECK(elf_is_static(as_bytes(static_exe)));
  CHECK(elf_bytes_needed(as_bytes(static_exe)) ==
        sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr));
  CHECK_FALSE(elf_is_static(as_bytes(elf32({PT_LOAD, PT_INTERP}))));
}

TEST_CASE("elf: anything that is not a complete native ELF is not static",
          "[elf]") {
  std::string image = elf64({PT_LOAD, PT_LOAD});
  CHECK_FALSE(elf_is_static(as_bytes(image.substr(0, image.size() - 1))));
  CHECK_FALSE(elf_is_static(as_bytes(image.substr(0, 10))));
  CHECK_FALSE(elf_is_static({}));
  std::string bad_magic = image;
  bad_magic[1] = 'X';
  CHECK_FALSE(elf_is_static(as_bytes(bad_magic)));
  std::string foreign = image;
  foreign[EI_DATA] = ELFDATA2MSB;
  CHECK_FALSE(elf_is_static(as_bytes(foreign)));
  std::string bad_class = image;
  bad_class[EI_CLASS] = 7;
  CHECK_FALSE(elf_is_static(as_bytes(bad_class)));
  CHECK_FALSE(elf_is_static(as_bytes(std::string("#!/bin/sh\necho\n"))));
}

TEST_CASE("elf: real files", "[elf]") {
  TempDir tmp;
  CHECK_FALSE(file_is_static_elf("/bin/true"));  // dynamic
  CHECK_FALSE(file_is_static_elf("/bin/sh"));
  std::string real = read_file("/bin/true");
  REQUIRE(elf_bytes_needed(as_bytes(real)) > 0);
  CHECK_FALSE(elf_is_static(as_bytes(real)));
  std::string made_static = tmp.write("static", strip_interp(real), 0755);
  CHECK(file_is_static_elf(made_static));
  CHECK(file_is_static_elf(tmp.write("tiny", elf64({PT_LOAD}), 0755)));
  CHECK_FALSE(file_is_static_elf(tmp.write("script", "#!/bin/sh\n", 0755)));
  CHECK_FALSE(file_is_static_elf(tmp.write("empty", "", 0755)));
  CHECK_FALSE(file_is_static_elf(tmp / "missing"));
  CHECK_FALSE(file_is_static_elf(tmp.path()));
  std::string fifo = tmp / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(file_is_static_elf(fifo));  // and does not block
}

// ----------------------------------------------------------- library path

TEST_CASE("library: relative path from bindir to the huptime libdir",
          "[library]") {
  CHECK(installed_relative_libdir("/usr", "bin", "lib/huptime") ==
        "../lib/huptime");
  CHECK(installed_relative_libdir("/usr/local", "bin",
                                  "lib/x86_64-linux-gnu/huptime") ==
        "../lib/x86_64-linux-gnu/huptime");
  CHECK(installed_relative_libdir("/usr", "/opt/tools/bin", "lib/huptime") ==
        "../../../usr/lib/huptime");
  CHECK(installed_relative_libdir("/usr", "bin", "/usr/lib64/huptime") ==
        "../lib64/huptime");
}

TEST_CASE("library: candidates, installed layout first", "[library]") {
  CHECK(library_candidates("/usr/bin/huptime", "../lib/huptime") ==
        strings({"/usr/lib/huptime/libhuptime.so", "/usr/lib/libhuptime.so"}));
  CHECK(library_candidates("/w/build/launcher/huptime", "../lib/huptime") ==
        strings({"/w/build/lib/huptime/libhuptime.so",
                 "/w/build/lib/libhuptime.so"}));
  // Installed layout and build tree coincide: listed once.
  CHECK(library_candidates("/x/bin/huptime", "../lib") ==
        strings({"/x/lib/libhuptime.so"}));
  CHECK(library_candidates("", "../lib/huptime").empty());
}

TEST_CASE("library: lookup order", "[library]") {
  std::set<std::string> files;
  auto exists = [&](const std::string& path) { return files.count(path) > 0; };
  const char* exe = "/opt/hup/bin/huptime";

  files = {"/opt/hup/lib/huptime/libhuptime.so", "/opt/hup/lib/libhuptime.so"};
  LibraryLookup found =
      find_library(nullptr, "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/opt/hup/lib/huptime/libhuptime.so");
  CHECK(found.error.empty());

  files = {"/opt/hup/lib/libhuptime.so"};
  found = find_library("", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/opt/hup/lib/libhuptime.so");

  files = {"/cwd/my/libhuptime.so", "/opt/hup/lib/libhuptime.so"};
  found =
      find_library("my/./libhuptime.so", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/cwd/my/libhuptime.so");

  // A HUPTIME_LIBRARY that does not exist is an error, not a fallback.
  found = find_library("/nope.so", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK(found.error ==
        "HUPTIME_LIBRARY=/nope.so does not name a file (unset it to use the "
        "installed library)");

  files.clear();
  found = find_library(nullptr, "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK(found.error ==
        "cannot find libhuptime.so (looked in: "
        "/opt/hup/lib/huptime/libhuptime.so, /opt/hup/lib/libhuptime.so); "
        "set HUPTIME_LIBRARY to its path");

  found = find_library(nullptr, "/cwd", "", "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK_THAT(found.error, Catch::Contains("/proc/self/exe"));
}

TEST_CASE("library: real filesystem checks", "[library]") {
  TempDir tmp;
  CHECK(library_file_exists(tmp.write("libhuptime.so", "x", 0644)));
  CHECK_FALSE(library_file_exists(tmp.path()));
  CHECK_FALSE(library_file_exists(tmp / "missing"));
  std::string self = self_exe_path();
  CHECK(self.front() == '/');
  CHECK(self.ends_with("/test_launcher_options"));
}

// ------------------------------------------------------------- launch env

TEST_CASE("launch env: LD_PRELOAD puts the library first", "[env]") {
  const char* lib = "/usr/lib/huptime/libhuptime.so";
  CHECK(build_ld_preload(lib, nullptr) == lib);
  CHECK(build_ld_preload(lib, "") == lib);
  CHECK(build_ld_preload(lib, "a.so") == std::string(lib) + ":a.so");
  CHECK(build_ld_preload(lib, "a.so:/old/libhuptime.so b.so::libhuptime.so") ==
        std::string(lib) + ":a.so:b.so");
  CHECK(build_ld_preload(lib, lib) == lib);
  CHECK(build_ld_preload(lib, "/x/libhuptime.so.1") ==
        std::string(lib) + ":/x/libhuptime.so.1");
}

TEST_CASE("launch env: contract variables replaced, others kept", "[env]") {
  LaunchConfig config;
  config.mode = Mode::kExec;
  config.argv = {"app", "--port", "80 80", ""};
  config.cwd = "/srv/app";
  config.sigmask = 0x4000;
  config.sigign = 0x1000;
  config.unlink = {"/run/app.pid"};
  config.log_level = LogLevel::kInfo;
  std::vector<std::string> current = {
      "PATH=/bin",         "HUPTIME_FDS=stale",   "HUPTIME_LOG=trace",
      "LD_PRELOAD=a.so",   "HUPTIME_LIBRARY=/l",  "NOEQUALS",
      "HUPTIME_MODE=fork", "LD_PRELOAD=second.so"};
  std::vector<std::string> env =
      build_launch_environment(current, "/lib/libhuptime.so", config);

  std::map<std::string, std::string> vars;
  for (const std::string& entry : env) {
    size_t eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    CHECK(vars.count(name) == 0);  // no duplicates
    vars[name] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  CHECK(env[0] == "PATH=/bin");
  CHECK(vars["HUPTIME_LIBRARY"] == "/l");
  CHECK(vars.count("NOEQUALS") == 1);
  CHECK(vars["LD_PRELOAD"] == "/lib/libhuptime.so:a.so");
  CHECK(vars.count("HUPTIME_FDS") == 0);
  CHECK(vars.at("HUPTIME_LOG") ==
        "info");  // always written: a stale one never wins

  std::string error;
  auto lookup = [&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  std::optional<LaunchConfig> decoded = decode_launch_env(lookup, &error);
  REQUIRE(decoded.has_value());
  CHECK(decoded->mode == Mode::kExec);
  CHECK(decoded->argv == config.argv);
  CHECK(decoded->cwd == config.cwd);
  CHECK(decoded->sigmask == config.sigmask);
  CHECK(decoded->sigign == config.sigign);
  CHECK(decoded->unlink == config.unlink);
  CHECK(decoded->log_level == LogLevel::kInfo);

  config.log_level = LogLevel::kDebug;
  env = build_launch_environment(current, "/lib/libhuptime.so", config);
  CHECK(std::count(env.begin(), env.end(), "HUPTIME_LOG=debug") == 1);
}

// ---------------------------------------------------------- process state

TEST_CASE("process state: logical working directory", "[state]") {
  TempDir tmp;
  std::string real = tmp.mkdir("real");
  std::string link = tmp / "link";
  REQUIRE(symlink(real.c_str(), link.c_str()) == 0);
  char saved[PATH_MAX];
  REQUIRE(getcwd(saved, sizeof saved) != nullptr);
  REQUIRE(chdir(link.c_str()) == 0);
  char physical[PATH_MAX];
  REQUIRE(getcwd(physical, sizeof physical) != nullptr);

  auto via_pwd = logical_cwd(link.c_str());
  auto via_double_slash = logical_cwd((tmp.path() + "//link/").c_str());
  auto via_dotdot = logical_cwd((link + "/../link").c_str());
  auto via_other = logical_cwd(saved);
  auto via_relative = logical_cwd("link");
  auto via_none = logical_cwd(nullptr);
  REQUIRE(chdir(saved) == 0);

  CHECK(via_pwd == link);
  CHECK(via_double_slash == link);
  CHECK(via_dotdot == std::string(physical));
  CHECK(via_other == std::string(physical));
  CHECK(via_relative == std::string(physical));
  CHECK(via_none == std::string(physical));
}

TEST_CASE("process state: blocked and ignored signals", "[state]") {
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGRTMIN + 1);
  REQUIRE(sigprocmask(SIG_BLOCK, &block, &old_mask) == 0);
  uint64_t blocked = blocked_signal_mask();
  REQUIRE(sigprocmask(SIG_SETMASK, &old_mask, nullptr) == 0);
  CHECK((blocked & (uint64_t{1} << (SIGUSR1 - 1))) != 0);
  CHECK((blocked & (uint64_t{1} << (SIGRTMIN + 1 - 1))) != 0);
  CHECK((blocked & (uint64_t{1} << (SIGUSR2 - 1))) == 0);

  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGUSR2, &ignore, &old_action) == 0);
  uint64_t ignored = ignored_signal_mask();
  REQUIRE(sigaction(SIGUSR2, &old_action, nullptr) == 0);
  CHECK((ignored & (uint64_t{1} << (SIGUSR2 - 1))) != 0);
  CHECK((ignored & (uint64_t{1} << (SIGUSR1 - 1))) == 0);
  CHECK((ignored_signal_mask() & (uint64_t{1} << (SIGUSR2 - 1))) == 0);
}

// ------------------------------------------------------------------- help

TEST_CASE("help: answers the operator's questions", "[help]") {
  std::string text(help_text());
  for (const char* needle :
       {"Usage: huptime [OPTION]... [--] COMMAND [ARG]...", "SIGHUP", "--fork",
        "--exec", "--unlink=FILE", "--debug", "--log-level=LEVEL", "--help",
        "--version", "HUPTIME_LOG", "HUPTIME_LIBRARY", "126", "127",
        "ExecStart=", "ExecReload=/bin/kill -HUP $MAINPID", "kill -HUP"})
    CHECK_THAT(text, Catch::Contains(needle));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.size() < 80);
  }
  CHECK(text.back() == '\n');
  CHECK_THAT(version_text(), Catch::StartsWith("huptime "));
  CHECK(version_text().back() == '\n');
}
