// Unit tests for the launcher options of safe reloads (restart settings)
// and of the control commands (--restart, --status, --stop and their
// targets): launcher/options.h.
#include "launcher_test_support.h"

using namespace huptime;
using namespace huptime::launcher_test;

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
    std::string_view view(option);
    std::string name(view.substr(0, view.find('=')));
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
