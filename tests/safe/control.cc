#include "control.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

extern char** environ;

namespace huptime::test {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;

pid_t spawn_capturing(const std::vector<std::string>& argv, int out_fd,
                      std::string* error) {
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    *error = fmt::format("posix_spawnp {}: {}", argv[0], std::strerror(rc));
    return -1;
  }
  return pid;
}

// Reads `fd` until EOF or the deadline; true at EOF.
bool read_to_eof(int fd, std::string* out, const Deadline& deadline) {
  char chunk[4096];
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.poll_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t got = read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;
    if (out->size() < kMaxOutput) out->append(chunk, static_cast<size_t>(got));
  }
}

constexpr std::string_view kExitMarker = "@@exit=";

// Takes the "@@exit=N" line off the end of the output; false if missing.
bool take_exit_marker(CommandResult* result) {
  size_t at = result->output.rfind(kExitMarker);
  if (at == std::string::npos) return false;
  int code = std::atoi(result->output.c_str() + at + kExitMarker.size());
  result->output.erase(at);
  if (code > 128) {
    result->term_signal = code - 128;
  } else {
    result->exit_code = code;
  }
  return true;
}

}  // namespace

std::string CommandResult::describe() const {
  std::string cmd;
  for (const std::string& arg : argv) cmd += (cmd.empty() ? "" : " ") + arg;
  std::string how = timed_out ? "timed out"
                    : term_signal
                        ? fmt::format("was killed by signal {}", term_signal)
                        : fmt::format("exited {}", exit_code);
  return fmt::format("`{}` {} after {:.2f} s; output: '{}'", cmd, how,
                     seconds(), output);
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const Deadline& deadline) {
  CommandResult result;
  result.argv = argv;
  result.start = Clock::now();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = fmt::format("pipe2: {}", std::strerror(errno));
    result.end = Clock::now();
    return result;
  }
  std::vector<std::string> wrapped{
      "/bin/sh", "-c", fmt::format("\"$@\"; echo {}$?", kExitMarker), "sh"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  std::string error;
  pid_t pid = spawn_capturing(wrapped, fds[1], &error);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    result.output = error;
    result.end = Clock::now();
    return result;
  }
  bool eof = read_to_eof(fds[0], &result.output, deadline);
  close(fds[0]);
  if (!eof) {
    kill(-pid, SIGKILL);  // its own group: the shell and the command
    result.timed_out = true;
  } else if (!take_exit_marker(&result)) {
    result.output += "\n(the wrapper shell printed no exit status)";
  }
  waitpid(pid, nullptr, WNOHANG);  // or reap_children() will
  result.end = Clock::now();
  return result;
}

std::optional<RestartOk> parse_restart_ok(const std::string& output) {
  static const std::regex pattern(
      R"(huptime: restarted: generation (\d+) is serving \(pid (\d+)\))");
  std::smatch match;
  if (!std::regex_search(output, match, pattern)) return std::nullopt;
  return RestartOk{std::stol(match[1]), std::stoi(match[2])};
}

int Status::count(const std::string& state) const {
  int n = 0;
  for (const StatusRow& row : rows) n += row.state == state;
  return n;
}

const StatusRow* Status::find(const std::string& state) const {
  for (const StatusRow& row : rows)
    if (row.state == state) return &row;
  return nullptr;
}

const StatusRow* Status::newest() const {
  const StatusRow* best = nullptr;
  for (const StatusRow& row : rows)
    if (!best || row.generation > best->generation) best = &row;
  return best;
}

namespace {

std::vector<pid_t> parse_pid_list(const std::string& text, bool* ok) {
  std::vector<pid_t> pids;
  *ok = true;
  if (text == "-") return pids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long pid = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || pid <= 0) *ok = false;
    pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

std::optional<StatusRow> parse_row(const std::string& line) {
  std::istringstream in(line);
  StatusRow row;
  std::string pids;
  if (!(in >> row.generation >> row.pid >> row.state >> row.age >> row.conns >>
        row.procs >> pids))
    return std::nullopt;
  std::string extra;
  if (in >> extra) return std::nullopt;
  bool ok = false;
  row.pids = parse_pid_list(pids, &ok);
  if (!ok) return std::nullopt;
  return row;
}

}  // namespace

std::optional<Status> parse_status(const std::string& output,
                                   std::string* error) {
  static const std::regex restarts(
      R"(restarts: (\d+) begun, (\d+) ended, (\d+) failed; last: (.*))");
  Status status;
  std::istringstream in(output);
  std::string line;
  bool header = false;
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_search(line, match, restarts)) {
      status.begun = std::stol(match[1]);
      status.ended = std::stol(match[2]);
      status.failed = std::stol(match[3]);
      status.last = match[4];
    } else if (line.starts_with("GEN ")) {
      header = true;
    } else if (header && !line.empty()) {
      auto row = parse_row(line);
      if (!row) {
        *error = fmt::format("malformed generation row '{}'", line);
        return std::nullopt;
      }
      status.rows.push_back(*row);
    }
  }
  if (!header || status.begun < 0) {
    *error = "no 'restarts:' line or no 'GEN ...' header";
    return std::nullopt;
  }
  return status;
}

}  // namespace huptime::test
