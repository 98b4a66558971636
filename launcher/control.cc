#include "control.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>

#include "config.h"
#include "diag.h"
#include "env_codec.h"
#include "status.h"

namespace huptime {

namespace {

bool contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

// Where the restart signal goes: `huptime --master` when there is one,
// else the page's current main process when it is still a member, else
// `fallback`.
pid_t main_pid(const ServiceShared* page, const std::vector<pid_t>& members,
               pid_t fallback) {
  pid_t master = page->master_pid.load(std::memory_order_acquire);
  if (master > 0 && contains(members, master)) return master;
  pid_t current = page->current_pid.load(std::memory_order_acquire);
  return current > 0 && contains(members, current) ? current : fallback;
}

// Builds the handle once the service memfd `ref` has been found; `named`
// is the pid the user named, 0 when the service was found by COMMAND.
std::optional<ServiceHandle> make_handle(const MemfdRef& ref, pid_t named,
                                         const std::vector<ProcessMemfds>& scan,
                                         std::string* error) {
  std::optional<ServicePage> page = map_service_page(ref, error);
  if (!page) return std::nullopt;
  ServiceHandle handle{ref.id, named, std::move(*page),
                       members_of(scan, ref.id)};
  std::vector<pid_t> pids = pids_of(handle.members);
  if (named == 0 && !pids.empty())
    handle.named_pid = main_pid(handle.page.page(), pids, pids.front());
  return handle;
}

// The services in `scan` whose stored argv is `wanted` (encode_list
// bytes), one handle per service memfd. A service whose page cannot be
// read through one member is read through the next.
std::vector<ServiceHandle> services_running(
    const std::vector<ProcessMemfds>& scan, const std::string& wanted) {
  std::map<FileId, std::vector<const MemfdRef*>> refs;
  for (const ProcessMemfds& process : scan)
    for (const MemfdRef& ref : process.services) refs[ref.id].push_back(&ref);
  std::vector<ServiceHandle> matches;
  for (const auto& [id, list] : refs) {
    for (const MemfdRef* ref : list) {
      std::string ignored;
      std::optional<ServiceHandle> handle =
          make_handle(*ref, 0, scan, &ignored);
      if (!handle) continue;  // exited meanwhile, or unreadable
      if (handle->page.argv_bytes() == wanted)
        matches.push_back(std::move(*handle));
      break;
    }
  }
  return matches;
}

// -------------------------------------------------------------- waiting

// Is the service still there? Checks the members seen last (cheap), and
// rescans /proc only when none of them holds the service memfd any more.
struct Liveness {
  std::string_view proc_root;
  FileId id;
  std::vector<pid_t> known;

  bool holds(pid_t pid) const {
    Probe probe = probe_process(proc_root, pid);
    const std::vector<MemfdRef>& refs = probe.memfds.services;
    return std::any_of(refs.begin(), refs.end(),
                       [&](const MemfdRef& ref) { return ref.id == id; });
  }

  bool alive() {
    if (std::any_of(known.begin(), known.end(),
                    [&](pid_t pid) { return holds(pid); }))
      return true;
    known = pids_of(members_of(scan_services(proc_root), id));
    return !known.empty();
  }
};

// True once counter `value` has reached `target` (modulo 2^32).
bool reached(uint32_t value, uint32_t target) {
  return static_cast<int32_t>(value - target) >= 0;
}

// Sleeps until `word` may have changed from `expected` (FUTEX_WAKE from
// the library), or `ms` pass. Shared futex: the page is a shared mapping.
void futex_wait(const std::atomic<uint32_t>& word, uint32_t expected,
                int64_t ms) {
  timespec timeout{static_cast<time_t>(ms / 1000),
                   static_cast<long>(ms % 1000 * 1'000'000)};
  syscall(SYS_futex, const_cast<std::atomic<uint32_t>*>(&word), FUTEX_WAIT,
          expected, &timeout, nullptr, 0);
}

// An attempt begun but not ended whose leader has died, or that is well
// past its start timeout: the library gives up on it when the next attempt
// begins (lib/service_state.cc), so do not wait for it.
bool attempt_abandoned(const ServiceShared* page) {
  int64_t began = page->attempt_ms.load(std::memory_order_acquire);
  int64_t limit = page->start_timeout_ms.load(std::memory_order_acquire);
  if (began > 0 && monotonic_ms() > began + limit + kStuckAttemptGraceMs)
    return true;
  pid_t leader = page->attempt_pid.load(std::memory_order_acquire);
  return leader > 0 && kill(leader, 0) != 0 && errno == ESRCH;
}

enum class WaitEnd { kDone, kTimeout, kGone };

// Waits until `ended` reaches `target` (or, if `abandoned_ok`, the attempt
// under way is abandoned), the deadline passes, or no member is left (seen
// twice in a row, so that a process that is just exec()ing does not count
// as gone). Polls every 100 ms in case a wake is missed.
WaitEnd wait_for_ended(const ServiceShared* page, uint32_t target,
                       int64_t deadline, Liveness* live, bool abandoned_ok) {
  int empty_checks = 0;
  for (;;) {
    uint32_t ended = page->ended.load(std::memory_order_acquire);
    if (reached(ended, target)) return WaitEnd::kDone;
    if (abandoned_ok && attempt_abandoned(page)) return WaitEnd::kDone;
    int64_t left = deadline - monotonic_ms();
    if (left <= 0) return WaitEnd::kTimeout;
    empty_checks = live->alive() ? 0 : empty_checks + 1;
    if (empty_checks >= 2) return WaitEnd::kGone;
    futex_wait(page->ended, ended, std::min<int64_t>(left, 100));
  }
}

// Under `huptime --master`, a restart ends when the master has restarted
// every copy (--multi), not when the first one is done.
WaitEnd wait_for_roll(const ServiceShared* page, int64_t deadline,
                      Liveness* live) {
  int empty_checks = 0;
  for (;;) {
    uint32_t ended = page->ended.load(std::memory_order_acquire);
    if (page->rolling.load(std::memory_order_acquire) == 0)
      return WaitEnd::kDone;
    int64_t left = deadline - monotonic_ms();
    if (left <= 0) return WaitEnd::kTimeout;
    empty_checks = live->alive() ? 0 : empty_checks + 1;
    if (empty_checks >= 2) return WaitEnd::kGone;
    futex_wait(page->ended, ended, std::min<int64_t>(left, 50));
  }
}

ControlResult wait_failure(WaitEnd end, int64_t timeout_ms) {
  if (end == WaitEnd::kGone)
    return control_failure("restart failed: the service exited");
  return control_failure("restart did not finish within " +
                         seconds_text(timeout_ms));
}

// Sends the page's restart signal to the service's main process.
// Returns an error message, empty on success.
std::string send_restart_signal(const ServiceHandle& service,
                                const std::vector<pid_t>& members) {
  const ServiceShared* page = service.page.page();
  int sig = page->restart_signal.load(std::memory_order_acquire);
  if (sig < 1 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP)
    return "the service records no valid restart signal (" +
           std::to_string(sig) + ")";
  pid_t fallback = contains(members, service.named_pid) || members.empty()
                       ? service.named_pid
                       : members.front();
  pid_t target = main_pid(page, members, fallback);
  if (target <= 0) return "the service has no process left";
  if (kill(target, sig) != 0)
    return "cannot send SIG" + signal_name(sig) + " to pid " +
           std::to_string(target) + ": " + std::strerror(errno);
  return "";
}

ControlResult restart_outcome(const ServiceShared* page) {
  if (!page->last_ok.load(std::memory_order_acquire)) {
    const char* text = page->last_error;
    std::string reason(text, strnlen(text, ServiceShared::kErrorSize));
    return control_failure("restart failed: " +
                           (reason.empty() ? "unknown reason" : reason));
  }
  return {
      0,
      "huptime: restarted: generation " +
          std::to_string(page->current_gen.load(std::memory_order_acquire)) +
          " is serving (pid " +
          std::to_string(page->current_pid.load(std::memory_order_acquire)) +
          ")\n",
      ""};
}

}  // namespace

// ------------------------------------------------------------ utilities

ControlResult control_failure(const std::string& message) {
  return {kExitFailure, "", "huptime: " + message + "\n"};
}

int64_t monotonic_ms() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

std::string seconds_text(int64_t ms) {
  std::string text = std::to_string(ms / 1000);
  if (int64_t frac = ms % 1000; frac != 0) {
    std::string digits = std::to_string(1000 + frac).substr(1);
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text + " s";
}

// ------------------------------------------------------ finding a service

std::optional<pid_t> read_pidfile(const std::string& path, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  char buf[64];
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
  int saved = errno;
  if (fd >= 0) close(fd);
  if (n < 0) {
    *error = "cannot read pidfile " + path + ": " + std::strerror(saved);
    return std::nullopt;
  }
  std::string_view text(buf, static_cast<size_t>(n));
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  std::optional<int64_t> pid = parse_number(text);
  if (!pid || *pid < 1 || *pid > INT_MAX || text[0] == '+' ||
      static_cast<size_t>(n) == sizeof buf) {
    *error = "pidfile " + path + " does not hold a pid";
    return std::nullopt;
  }
  return static_cast<pid_t>(*pid);
}

std::optional<ServiceHandle> find_service_by_pid(std::string_view proc_root,
                                                 pid_t pid,
                                                 std::string* error) {
  std::string p = std::to_string(pid);
  Probe probe = probe_process(proc_root, pid);
  if (probe.error == ProbeError::kNoProcess) {
    *error = "no process " + p;
  } else if (probe.error == ProbeError::kPermission) {
    *error = "pid " + p + " belongs to another user: permission denied";
  } else if (probe.error != ProbeError::kNone) {
    *error = "cannot read the descriptors of pid " + p;
  } else if (probe.memfds.services.empty()) {
    *error = "pid " + p + " is not a service run by huptime";
  } else {
    std::vector<ProcessMemfds> scan = scan_services(proc_root);
    // The scan may have raced with the process; it is a member regardless.
    auto at = std::lower_bound(
        scan.begin(), scan.end(), pid,
        [](const ProcessMemfds& m, pid_t value) { return m.pid < value; });
    if (at == scan.end() || at->pid != pid) scan.insert(at, probe.memfds);
    std::optional<ServiceHandle> handle =
        make_handle(probe.memfds.services.front(), pid, scan, error);
    if (!handle)
      *error = probe_process(proc_root, pid).error == ProbeError::kNoProcess
                   ? "no process " + p  // it exited meanwhile
                   : "pid " + p + ": " + *error;
    return handle;
  }
  return std::nullopt;
}

std::optional<ServiceHandle> find_service_by_command(
    std::string_view proc_root, const std::vector<std::string>& command,
    std::string* error) {
  std::vector<ServiceHandle> matches =
      services_running(scan_services(proc_root), encode_list(command));
  if (matches.size() == 1) return std::move(matches.front());
  std::string line = shell_join(command);
  if (matches.empty()) {
    *error = "no running service matches: " + line;
    return std::nullopt;
  }
  std::string pids;
  for (const ServiceHandle& match : matches)
    pids += (pids.empty() ? "" : ", ") + std::to_string(match.named_pid);
  *error = std::to_string(matches.size()) + " services match: " + line +
           " (pids " + pids + "); choose one with --pid";
  return std::nullopt;
}

std::optional<ServiceHandle> find_target(std::string_view proc_root,
                                         const Options& options,
                                         std::string* error) {
  const ControlTarget& target = options.target;
  if (target.pid != 0) return find_service_by_pid(proc_root, target.pid, error);
  if (!target.pidfile.empty()) {
    std::optional<pid_t> pid = read_pidfile(target.pidfile, error);
    if (!pid) return std::nullopt;
    return find_service_by_pid(proc_root, *pid, error);
  }
  return find_service_by_command(proc_root, options.command, error);
}

// ------------------------------------------------------------- commands

// Waits for a restart already in flight first: a signal that arrives
// during one does not start an attempt of its own (the library notes it and
// starts one after), and the in-flight attempt, begun before whatever the
// caller deployed, must not be taken for ours.
ControlResult restart_service(std::string_view proc_root,
                              const ServiceHandle& service,
                              std::optional<int64_t> timeout_ms) {
  const ServiceShared* page = service.page.page();
  int64_t timeout = timeout_ms.value_or(
      page->start_timeout_ms.load(std::memory_order_acquire) + kRestartSlackMs);
  int64_t deadline = monotonic_ms() + timeout;
  Liveness live{proc_root, service.id, pids_of(service.members)};
  uint32_t in_flight = page->begun.load(std::memory_order_acquire);
  WaitEnd end = wait_for_ended(page, in_flight, deadline, &live, true);
  if (end == WaitEnd::kDone) end = wait_for_roll(page, deadline, &live);
  if (end != WaitEnd::kDone) return wait_failure(end, timeout);

  uint32_t target = page->begun.load(std::memory_order_acquire) + 1;
  // Members now: a restart that just ended has started new processes.
  live.known = pids_of(members_of(scan_services(proc_root), service.id));
  std::string error = send_restart_signal(service, live.known);
  if (!error.empty()) return control_failure(error);
  end = wait_for_ended(page, target, deadline, &live, false);
  if (end == WaitEnd::kDone) end = wait_for_roll(page, deadline, &live);
  if (end != WaitEnd::kDone) return wait_failure(end, timeout);
  return restart_outcome(page);
}

ControlResult service_status(const ServiceHandle& service) {
  return {0,
          format_status(
              collect_status(service.page, service.members, monotonic_ms())),
          ""};
}

ControlResult run_control(const Options& options, std::string_view proc_root) {
  std::string error;
  std::optional<ServiceHandle> service =
      find_target(proc_root, options, &error);
  if (!service) return control_failure(error);
  switch (options.action) {
    case Action::kRestart:
      return restart_service(proc_root, *service, options.target.timeout_ms);
    case Action::kStatus:
      return service_status(*service);
    case Action::kStop:
      return stop_service(proc_root, *service,
                          options.target.timeout_ms.value_or(kStopTimeoutMs));
    default:
      return control_failure("not a control command");
  }
}

}  // namespace huptime
