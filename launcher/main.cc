// huptime: start COMMAND under libhuptime.so, or control a service already
// running under it (--restart, --status, --stop: control.h).
//
// Top-down: parse the options, find COMMAND and the library, record the
// process state the library must reproduce in later generations, build the
// environment, exec. Without --master the launcher leaves no process of its
// own behind; with it, it stays as the service's parent (master.h). Either
// way it changes nothing it passes on: signal mask, dispositions and fds
// reach COMMAND exactly as the launcher received them (socket-activated
// fds become inherited listeners, NOTIFY_SOCKET stays with huptime).
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "build_info.h"
#include "config.h"
#include "control.h"
#include "diag.h"
#include "help.h"
#include "launch_env.h"
#include "library_path.h"
#include "master.h"
#include "options.h"
#include "process_state.h"
#include "resolve.h"
#include "socket_activation.h"
#include "static_elf.h"

extern char** environ;

namespace huptime {
namespace {

// The installed launcher finds the library through this path, relative to
// its own directory (see library_path.h).
std::string relative_libdir() {
  return installed_relative_libdir(HUPTIME_PREFIX, HUPTIME_BINDIR,
                                   HUPTIME_LIBDIR);
}

// --help, --version and the control commands work even where the working
// directory is unknown (a relative --pidfile is then taken as given).
Options parse_or_exit(int argc, char** argv,
                      const std::optional<std::string>& cwd, int cwd_errno) {
  if (argc < 1) usage_error("missing COMMAND");
  std::span<const char* const> args(argv + 1, static_cast<size_t>(argc - 1));
  ParseResult parsed = parse_options(args, cwd.value_or(""));
  if (!parsed.error.empty()) usage_error(parsed.error);
  if (parsed.options.action == Action::kHelp) print_and_exit(help_text());
  if (parsed.options.action == Action::kVersion) print_and_exit(version_text());
  if (!cwd && !is_control(parsed.options.action))
    fatal(kExitFailure,
          fmt::format("cannot determine the working directory: {}",
                      std::strerror(cwd_errno)));
  return std::move(parsed.options);
}

// COMMAND's path, or exit 126/127 with the reason.
std::string resolve_or_exit(const std::string& command) {
  const char* search_path = std::getenv("PATH");
  Resolution resolution =
      resolve_command(command, search_path ? search_path : kDefaultSearchPath);
  if (resolution.error != 0)
    fatal(exit_status_for_errno(resolution.error),
          resolution_message(command, resolution));
  return resolution.path;
}

std::string library_or_exit(const std::string& cwd) {
  LibraryLookup lookup =
      find_library(std::getenv(kEnvLibrary), cwd, self_exe_path(),
                   relative_libdir(), library_file_exists);
  if (lookup.path.empty()) fatal(kExitFailure, lookup.error);
  return lookup.path;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; entry && *entry; ++entry)
    env.emplace_back(*entry);
  return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Replaces the process with COMMAND; returns only to report the failure.
[[noreturn]] void exec_or_exit(const std::string& path,
                               std::vector<std::string> argv,
                               std::vector<std::string> env) {
  std::vector<char*> argv_ptrs = pointers_to(argv);
  std::vector<char*> env_ptrs = pointers_to(env);
  execve(path.c_str(), argv_ptrs.data(), env_ptrs.data());
  int error = errno;
  // The file was there a moment ago, so ENOENT now means a missing script
  // interpreter or ELF loader, not a missing COMMAND.
  fatal(
      exit_status_for_errno(error),
      fmt::format("{}: cannot execute: {}{}", path, std::strerror(error),
                  error == ENOENT ? " (missing interpreter or loader?)" : ""));
}

// The LaunchConfig the library reads back (lib/config.h).
LaunchConfig launch_config(const Options& options, const std::string& cwd,
                           LogLevel level) {
  LaunchConfig config;
  config.mode = options.mode;
  config.argv = options.command;
  config.cwd = cwd;
  config.sigmask = blocked_signal_mask();
  config.sigign = ignored_signal_mask();
  config.unlink = options.unlink;
  config.log_level = level;
  config.restart_signal = options.run.restart_signal;
  config.stop_signal = options.run.stop_signal;
  config.start_timeout_ms = options.run.start_timeout_ms;
  config.drain_timeout_ms = options.run.drain_timeout_ms;
  config.max_draining = options.run.max_draining;
  config.check = options.run.check;
  config.ready = options.run.ready;
  return config;
}

// Without NOTIFY_SOCKET: huptime talks to systemd, not the program
// (systemd_notify.h).
std::vector<std::string> without_notify_socket(
    const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const std::string& entry : env)
    if (!entry.starts_with("NOTIFY_SOCKET=")) out.push_back(entry);
  return out;
}

// The sockets systemd passed (LISTEN_FDS), or none.
Activation activation_or_warn(LogLevel level) {
  Activation activation = take_activation(std::getenv("LISTEN_PID"),
                                          std::getenv("LISTEN_FDS"), getpid());
  if (!activation.warning.empty() && level >= LogLevel::kWarn)
    warn(activation.warning);
  return activation;
}

// Whether the master intercepts COMMAND's system calls with seccomp rather
// than preloading the library, and says so; `blind` is why the library
// cannot see it ("" when it can).
bool use_seccomp(const Options& options, const std::string& blind,
                 LogLevel level) {
  const std::string& command = options.command.front();
  bool seccomp = options.run.intercept == Intercept::kSeccomp ||
                 (options.run.intercept == Intercept::kAuto &&
                  options.run.master && !blind.empty());
  if (seccomp && level >= LogLevel::kInfo)
    inform(blind.empty()
               ? fmt::format("{}: intercepting its system calls with seccomp "
                             "(--intercept=seccomp)",
                             command)
               : fmt::format("{} is {}: intercepting its system calls with "
                             "seccomp instead of preloading the library",
                             command, blind));
  if (!seccomp && !blind.empty() && level >= LogLevel::kWarn)
    warn(fmt::format(
        "{} is {}; the preloaded library cannot see its sockets, so restarts "
        "will not keep its listeners. Run it with --master, which intercepts "
        "its system calls instead (see README: limitations)",
        command, blind));
  return seccomp;
}

// --master: stays resident and starts the service itself (master.h).
[[noreturn]] void run_as_master(const Options& options, LaunchConfig config,
                                const std::string& library,
                                const Activation& activation, bool seccomp) {
  MasterPlan plan;
  plan.argv = options.command;
  plan.systemd_notify = config.systemd_notify;
  config.systemd_notify.clear();
  std::vector<std::string> env = without_notify_socket(current_environment());
  if (!activation.sockets.empty()) env = without_activation_vars(env);
  plan.seccomp = seccomp;
  plan.program_env = env;
  if (config.stop_signal != 0) plan.stop_signal = config.stop_signal;
  plan.env = build_launch_environment(env, library, config);
  plan.config = std::move(config);
  sigprocmask(SIG_SETMASK, nullptr, &plan.launch_mask);
  plan.copies = options.run.copies;
  plan.revive = options.run.revive;
  plan.revive_limit = options.run.revive_limit;
  plan.activated = activation.sockets;
  run_master(std::move(plan));
}

int run(int argc, char** argv) {
  const std::optional<std::string> logical = logical_cwd(std::getenv("PWD"));
  Options options = parse_or_exit(argc, argv, logical, errno);
  if (is_control(options.action)) {
    ControlResult result = run_control(options);
    finish(result.status, result.out, result.err);
  }
  const std::string& cwd = *logical;
  std::string level_error;
  std::optional<LogLevel> level = effective_log_level(
      options.log_level, std::getenv(kEnvLog), &level_error);
  if (!level) usage_error(level_error);

  const std::string& command = options.command.front();
  const std::string path = resolve_or_exit(command);
  const std::string library = library_or_exit(cwd);
  bool seccomp = use_seccomp(options, preload_blind_reason(path), *level);

  LaunchConfig config = launch_config(options, cwd, *level);
  if (const char* notify = std::getenv("NOTIFY_SOCKET"))
    config.systemd_notify = notify;
  Activation activation = activation_or_warn(*level);
  if (options.run.master)
    run_as_master(options, config, library, activation, seccomp);
  std::vector<std::string> env = without_notify_socket(current_environment());
  if (!activation.sockets.empty()) env = without_activation_vars(env);
  env = build_launch_environment(env, library, config);
  if (!activation.sockets.empty())
    env.push_back(activation_handoff_var(activation.sockets, getpid()));
  exec_or_exit(path, options.command, std::move(env));
}

}  // namespace
}  // namespace huptime

int main(int argc, char** argv) { return huptime::run(argc, argv); }
