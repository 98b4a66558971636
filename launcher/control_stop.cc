// `huptime --stop` (control.h): SIGTERM to the top of each generation,
// SIGKILL to whatever is left when the timeout passes.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "control.h"

namespace huptime {
namespace {

constexpr int64_t kRescanMs = 50;

void sleep_ms(int64_t ms) {
  timespec delay{static_cast<time_t>(ms / 1000),
                 static_cast<long>(ms % 1000 * 1'000'000)};
  while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
  }
}

std::string pid_list(const std::vector<ProcessMemfds>& members) {
  std::string text;
  for (const ProcessMemfds& member : members)
    text += (text.empty() ? "" : ", ") + std::to_string(member.pid);
  return text;
}

std::string processes(size_t n) {
  return std::to_string(n) + (n == 1 ? " process" : " processes");
}

// The members of one service as the stop goes on.
struct Stopper {
  std::string_view proc_root;
  FileId id;
  std::vector<ProcessMemfds> members;  // as of the last rescan
  std::set<pid_t> seen;                // every member ever seen
  std::set<pid_t> termed;              // those sent SIGTERM
  GenerationPages pages;               // of every generation seen

  void rescan() {
    members = members_of(scan_services(proc_root), id);
    for (const ProcessMemfds& member : members) seen.insert(member.pid);
    map_generation_pages(members, &pages);
  }

  const ProcessMemfds* member(pid_t pid) const {
    auto it =
        std::find_if(members.begin(), members.end(),
                     [&](const ProcessMemfds& m) { return m.pid == pid; });
    return it == members.end() ? nullptr : &*it;
  }

  // The top of a generation's tree: its parent is not a member, or is a
  // member of another generation (a new generation forked by the old one).
  bool is_top(const ProcessMemfds& process) const {
    const ProcessMemfds* parent = member(parent_pid(proc_root, process.pid));
    return !parent ||
           generation_of(process, pages) != generation_of(*parent, pages);
  }

  void term_tops() {
    for (const ProcessMemfds& process : members) {
      if (termed.count(process.pid) || !is_top(process)) continue;
      kill(process.pid, SIGTERM);
      termed.insert(process.pid);
    }
  }

  void kill_all() const {
    for (const ProcessMemfds& process : members) kill(process.pid, SIGKILL);
  }

  // Rescans every 50 ms and calls `each` after each scan that still finds
  // members. True once none is left, false when `deadline` passes first.
  template <typename Each>
  bool wait_empty(int64_t deadline, Each each) {
    for (;;) {
      rescan();
      if (members.empty()) return true;
      each();
      int64_t left = deadline - monotonic_ms();
      if (left <= 0) return false;
      sleep_ms(std::min(left, kRescanMs));
    }
  }
};

ControlResult stopped(const Stopper& stopper, std::string warning) {
  return {0, "huptime: stopped (" + processes(stopper.seen.size()) + ")\n",
          std::move(warning)};
}

}  // namespace

ControlResult stop_service(std::string_view proc_root,
                           const ServiceHandle& service, int64_t timeout_ms,
                           int64_t kill_wait_ms) {
  Stopper stopper{proc_root, service.id, {}, {}, {}, {}};
  if (stopper.wait_empty(monotonic_ms() + timeout_ms,
                         [&] { stopper.term_tops(); }))
    return stopped(stopper, "");
  std::string warning =
      "huptime: warning: " + processes(stopper.members.size()) +
      " still running after " + seconds_text(timeout_ms) + " (pids " +
      pid_list(stopper.members) + "): sending SIGKILL\n";
  if (stopper.wait_empty(monotonic_ms() + kill_wait_ms,
                         [&] { stopper.kill_all(); }))
    return stopped(stopper, warning);
  ControlResult result = control_failure(processes(stopper.members.size()) +
                                         " survived SIGKILL (pids " +
                                         pid_list(stopper.members) + ")");
  result.err = warning + result.err;
  return result;
}

}  // namespace huptime
