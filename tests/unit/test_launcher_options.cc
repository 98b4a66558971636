// Unit tests for the launcher's pure modules (launcher/*.h): option parsing,
// paths, COMMAND lookup, the launch environment, the recorded process state
// and the help text (ELF inspection and library lookup are in
// test_launcher_files.cc, the control commands in test_launcher_control.cc).
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

// ------------------------------------------------------ restart settings

TEST_CASE("options: restart settings default to the library's", "[options]") {
  ParseResult r = parse({"app"});
  REQUIRE(r.error.empty());
  const RunSettings& run = r.options.run;
  LaunchConfig defaults;
  CHECK(run.restart_signal == SIGHUP);
  CHECK(run.restart_signal == defaults.restart_signal);
  CHECK(run.stop_signal == 0);
  CHECK(run.start_timeout_ms == 60'000);
  CHECK(run.start_timeout_ms == defaults.start_timeout_ms);
  CHECK(run.drain_timeout_ms == 30'000);
  CHECK(run.drain_timeout_ms == defaults.drain_timeout_ms);
  CHECK(run.max_draining == 2);
  CHECK(run.check.empty());
  CHECK(run.ready == ReadyRule::kListen);
  CHECK(r.options.target.pid == 0);
  CHECK(r.options.target.pidfile.empty());
  CHECK_FALSE(r.options.target.timeout_ms.has_value());
}

TEST_CASE("options: --signal and --stop-signal", "[options]") {
  CHECK(parse({"--signal=USR2", "app"}).options.run.restart_signal == SIGUSR2);
  CHECK(parse({"--signal", "sigusr1", "app"}).options.run.restart_signal ==
        SIGUSR1);
  CHECK(parse({"--signal=10", "app"}).options.run.restart_signal == 10);
  CHECK(parse({"--signal=RTMIN+2", "app"}).options.run.restart_signal ==
        SIGRTMIN + 2);
  CHECK(parse({"--signal=HUP", "app"}).options.run.restart_signal == SIGHUP);
  ParseResult r = parse({"--stop-signal", "QUIT", "app"});
  REQUIRE(r.error.empty());
  CHECK(r.options.run.stop_signal == SIGQUIT);
  CHECK(r.options.run.restart_signal == SIGHUP);

  CHECK(parse({"--signal=FOO", "app"}).error ==
        "invalid signal 'FOO' for --signal");
  CHECK(parse({"--signal=KILL", "app"}).error ==
        "invalid signal 'KILL' for --signal");
  CHECK(parse({"--signal", "SIGSTOP", "app"}).error ==
        "invalid signal 'SIGSTOP' for --signal");
  CHECK(parse({"--signal=0", "app"}).error ==
        "invalid signal '0' for --signal");
  CHECK(parse({"--stop-signal=9", "app"}).error ==
        "invalid signal '9' for --stop-signal");
  CHECK(parse({"--signal="}).error ==
        "option '--signal' requires a non-empty argument");
  CHECK(parse({"--stop-signal"}).error ==
        "option '--stop-signal' requires an argument");
}

TEST_CASE("options: --stop-signal must differ from --signal", "[options]") {
  CHECK(parse({"--stop-signal=HUP", "app"}).error ==
        "--stop-signal must differ from --signal (both are HUP)");
  CHECK(parse({"--signal=USR2", "--stop-signal=12", "app"}).error ==
        "--stop-signal must differ from --signal (both are USR2)");
  CHECK(parse({"--signal=USR2", "--stop-signal=HUP", "app"}).error.empty());
}

TEST_CASE("options: --stop-signal is for fork mode", "[options]") {
  std::string error = parse({"--exec", "--stop-signal=TERM", "app"}).error;
  CHECK(error.rfind("--stop-signal needs --fork", 0) == 0);
  CHECK(parse({"--stop-signal=TERM", "--exec", "app"}).error == error);
  CHECK(parse({"--fork", "--stop-signal=TERM", "app"}).error.empty());
}

TEST_CASE("options: --start-timeout and --drain-timeout", "[options]") {
  CHECK(parse({"--start-timeout=90", "app"}).options.run.start_timeout_ms ==
        90'000);
  CHECK(
      parse({"--start-timeout", "1.5s", "app"}).options.run.start_timeout_ms ==
      1'500);
  CHECK(parse({"--start-timeout=250ms", "app"}).options.run.start_timeout_ms ==
        250);
  CHECK(parse({"--drain-timeout=2m", "app"}).options.run.drain_timeout_ms ==
        120'000);
  CHECK(parse({"--drain-timeout=0", "app"}).options.run.drain_timeout_ms == 0);
  CHECK(parse({"--drain-timeout=7d", "app"}).error ==
        "invalid duration '7d' for --drain-timeout (expected e.g. 30, 1.5s, "
        "250ms or 2m, at most 7 days)");
  for (const char* bad : {"-1", "abc", "1.5.2", "s", "1e3", "99999999m"}) {
    INFO(bad);
    std::string arg = std::string("--start-timeout=") + bad;
    CHECK_THAT(parse({arg.c_str(), "app"}).error,
               Catch::StartsWith(std::string("invalid duration '") + bad +
                                 "' for --start-timeout ("));
  }
  CHECK(parse({"--start-timeout=0", "app"}).error ==
        "--start-timeout must be more than 0");
  CHECK(parse({"--start-timeout=0ms", "app"}).error ==
        "--start-timeout must be more than 0");
}

TEST_CASE("options: --max-draining", "[options]") {
  CHECK(parse({"--max-draining=1", "app"}).options.run.max_draining == 1);
  CHECK(parse({"--max-draining", "64", "app"}).options.run.max_draining == 64);
  for (const char* bad : {"0", "65", "-1", "+3", "two", "2.0"}) {
    INFO(bad);
    std::string arg = std::string("--max-draining=") + bad;
    CHECK(parse({arg.c_str(), "app"}).error ==
          std::string("invalid value '") + bad +
              "' for --max-draining (expected 1 to 64)");
  }
}

TEST_CASE("options: --check and --ready", "[options]") {
  ParseResult r = parse({"--check", "nginx -t && echo ok", "app"});
  REQUIRE(r.error.empty());
  CHECK(r.options.run.check == "nginx -t && echo ok");
  CHECK(parse({"--check=/bin/true", "app"}).options.run.check == "/bin/true");
  CHECK(parse({"--check=", "app"}).error ==
        "option '--check' requires a non-empty argument");
  CHECK(parse({"--ready=notify", "app"}).options.run.ready ==
        ReadyRule::kNotify);
  CHECK(parse({"--ready", "listen", "app"}).options.run.ready ==
        ReadyRule::kListen);
  CHECK(parse({"--ready=systemd", "app"}).error ==
        "invalid value 'systemd' for --ready (expected listen or notify)");
}

TEST_CASE("options: restart settings reach the library's environment",
          "[options]") {
  ParseResult r =
      parse({"--signal=USR2", "--stop-signal=WINCH", "--start-timeout=5s",
             "--drain-timeout=0", "--max-draining=4", "--check=test -f x",
             "--ready=notify", "app"});
  REQUIRE(r.error.empty());
  LaunchConfig config;
  config.argv = r.options.command;
  config.restart_signal = r.options.run.restart_signal;
  config.stop_signal = r.options.run.stop_signal;
  config.start_timeout_ms = r.options.run.start_timeout_ms;
  config.drain_timeout_ms = r.options.run.drain_timeout_ms;
  config.max_draining = r.options.run.max_draining;
  config.check = r.options.run.check;
  config.ready = r.options.run.ready;
  std::map<std::string, std::string> vars;
  // Stale values in the user's environment never leak through.
  for (const std::string& entry : build_launch_environment(
           {"HUPTIME_CHECK=rm -rf /", "HUPTIME_SIGNAL=15"}, "/l.so", config))
    vars.emplace(entry.substr(0, entry.find('=')),
                 entry.substr(entry.find('=') + 1));
  std::string error;
  auto lookup = [&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  std::optional<LaunchConfig> decoded = decode_launch_env(lookup, &error);
  REQUIRE(decoded.has_value());
  CHECK(decoded->restart_signal == SIGUSR2);
  CHECK(decoded->stop_signal == SIGWINCH);
  CHECK(decoded->start_timeout_ms == 5'000);
  CHECK(decoded->drain_timeout_ms == 0);
  CHECK(decoded->max_draining == 4);
  CHECK(decoded->check == "test -f x");
  CHECK(decoded->ready == ReadyRule::kNotify);

  config.check.clear();
  std::vector<std::string> env =
      build_launch_environment({"HUPTIME_CHECK=rm -rf /"}, "/l.so", config);
  CHECK(std::none_of(env.begin(), env.end(), [](const std::string& e) {
    return e.starts_with("HUPTIME_CHECK=");
  }));
}

// ------------------------------------------------------- control commands

TEST_CASE("options: control commands and their targets", "[options]") {
  ParseResult r = parse({"--restart", "--pid=42"});
  REQUIRE(r.error.empty());
  CHECK(r.options.action == Action::kRestart);
  CHECK(r.options.target.pid == 42);
  CHECK(r.options.command.empty());

  r = parse({"--status", "--pidfile", "run/app.pid"});
  REQUIRE(r.error.empty());
  CHECK(r.options.action == Action::kStatus);
  CHECK(r.options.target.pidfile == "/srv/app/run/app.pid");

  r = parse({"--stop", "--timeout", "2.5s", "--", "./server", "--port", "80"});
  REQUIRE(r.error.empty());
  CHECK(r.options.action == Action::kStop);
  CHECK(r.options.target.timeout_ms == 2'500);
  CHECK(r.options.command == strings({"./server", "--port", "80"}));

  r = parse({"--restart", "--timeout=90", "./server", "--restart"});
  REQUIRE(r.error.empty());
  CHECK(r.options.action == Action::kRestart);
  CHECK(r.options.target.timeout_ms == 90'000);
  CHECK(r.options.command == strings({"./server", "--restart"}));

  CHECK(parse({"--restart", "--restart", "--pid", "7"}).error.empty());
  CHECK(parse({"--pid=7", "--status"}).options.action == Action::kStatus);
  CHECK(parse({"--status", "--pid=7", "--help"}).options.action ==
        Action::kHelp);
  CHECK(is_control(Action::kStop));
  CHECK_FALSE(is_control(Action::kRun));
  CHECK(action_flag(Action::kRestart) == "--restart");
}

TEST_CASE("options: control command usage errors", "[options]") {
  CHECK(parse({"--restart", "--stop", "--pid=1"}).error ==
        "--restart and --stop cannot be used together");
  CHECK(parse({"--status", "--restart", "app"}).error ==
        "--status and --restart cannot be used together");
  CHECK(parse({"--restart"}).error ==
        "--restart requires the service: --pid=PID, --pidfile=FILE or "
        "COMMAND");
  CHECK(parse({"--stop", "--"}).error ==
        "--stop requires the service: --pid=PID, --pidfile=FILE or COMMAND");
  CHECK(parse({"--status", "--pid=1", "--pidfile=/x"}).error ==
        "--pid and --pidfile cannot be used together");
  CHECK(parse({"--status", "--pid=1", "app"}).error ==
        "--pid and COMMAND cannot be used together");
  CHECK(parse({"--status", "--pidfile=/x", "app"}).error ==
        "--pidfile and COMMAND cannot be used together");
  CHECK(parse({"--status", "--timeout=5", "--pid=1"}).error ==
        "option '--timeout' cannot be used with --status");
  CHECK(parse({"--restart", "--timeout=0", "--pid=1"}).error ==
        "--timeout must be more than 0");
  CHECK(parse({"--stop", "--timeout=soon", "--pid=1"}).error ==
        "invalid duration 'soon' for --timeout (expected e.g. 30, 1.5s, "
        "250ms or 2m, at most 7 days)");
  for (const char* bad : {"0", "-5", "abc", "+5", "99999999999", "1.0"}) {
    INFO(bad);
    std::string arg = std::string("--pid=") + bad;
    CHECK(parse({"--status", arg.c_str()}).error ==
          std::string("invalid pid '") + bad + "' for --pid");
  }
  CHECK(parse({"--status", "--pid"}).error ==
        "option '--pid' requires an argument");
  CHECK(parse({"--status", "--pidfile="}).error ==
        "option '--pidfile' requires a non-empty argument");
}

TEST_CASE("options: run-only options are refused with a control command",
          "[options]") {
  for (const char* option :
       {"--fork", "--exec", "--unlink=x", "--debug", "--log-level=info",
        "--signal=HUP", "--stop-signal=USR1", "--start-timeout=5",
        "--drain-timeout=5", "--max-draining=3", "--check=true",
        "--ready=notify"}) {
    INFO(option);
    std::string name(option);
    name = name.substr(0, name.find('='));
    CHECK(parse({"--restart", option, "--pid=1"}).error ==
          "option '" + name + "' cannot be used with --restart");
    CHECK(parse({option, "--status", "app"}).error ==
          "option '" + name + "' cannot be used with --status");
  }
}

TEST_CASE("options: control-only options need a control command", "[options]") {
  CHECK(parse({"--pid=1", "app"}).error ==
        "option '--pid' requires --restart, --status or --stop");
  CHECK(parse({"--pidfile", "/run/x.pid", "app"}).error ==
        "option '--pidfile' requires --restart, --status or --stop");
  CHECK(parse({"--timeout=5", "app"}).error ==
        "option '--timeout' requires --restart, --status or --stop");
  CHECK(parse({"--timeout=5"}).error ==
        "option '--timeout' requires --restart, --status or --stop");
  // After COMMAND they are COMMAND's own.
  CHECK(parse({"app", "--pid=1"}).error.empty());
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
