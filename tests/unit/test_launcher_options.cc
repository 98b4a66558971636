// Unit tests for the launcher's pure modules (launcher/*.h): option parsing,
// paths, COMMAND lookup, the launch environment, the recorded process state
// and the help text (ELF inspection and library lookup are in
// test_launcher_files.cc, the restart settings and control-command options
// in test_launcher_settings.cc, the control commands themselves in
// test_launcher_control.cc and test_launcher_restart.cc).
// Filesystem cases run in a private mkdtemp() directory.
#define CATCH_CONFIG_MAIN
#include "launcher_test_support.h"

using namespace huptime;
using namespace huptime::launcher_test;

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

// Found by tests/fuzz/fuzz_options: a value with a newline or an escape
// made the "one line" error span several lines of the terminal.
TEST_CASE("options: errors stay one line whatever the value holds",
          "[options]") {
  CHECK(parse({"--signal=HUP\nrm -rf", "app"}).error ==
        "invalid signal 'HUP\\x0arm -rf' for --signal");
  CHECK(parse({"--\x1b[2J", "app"}).error ==
        "unrecognized option '--\\x1b[2J'");
  std::string error;
  CHECK_FALSE(effective_log_level(std::nullopt, "a\rb", &error));
  CHECK(error.find('\r') == std::string::npos);
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
       {"Usage: huptime [OPTION]... [--] COMMAND [ARG]...",
        "SIGHUP",
        "--fork",
        "--exec",
        "--unlink=FILE",
        "--debug",
        "--log-level=LEVEL",
        "--help",
        "--version",
        "HUPTIME_LOG",
        "HUPTIME_LIBRARY",
        "126",
        "127",
        "ExecStart=",
        "kill -HUP",
        "--signal=SIG",
        "--stop-signal=SIG",
        "--start-timeout=DUR",
        "--drain-timeout=DUR",
        "--max-draining=N",
        "--check=CMD",
        "--ready=RULE",
        "notify",
        "READY=1",
        "NOTIFY_SOCKET",
        "sd_notify",
        "epoll",
        "--restart",
        "--status",
        "--stop",
        "--timeout=DUR",
        "--pid=PID",
        "--pidfile=FILE",
        "huptime --restart --pidfile /run/app.pid && echo deployed",
        "ExecReload=/usr/bin/huptime --restart --pid $MAINPID",
        "250ms"})
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
