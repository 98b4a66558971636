// --ready=notify: the new version is ready when it sends READY=1 to
// $NOTIFY_SOCKET (sd_notify), not when it listens; one that never does is
// killed at --start-timeout with every process it made.
#include <fmt/format.h>

#include "cases.h"
#include "child_process.h"

namespace huptime::test {
namespace {

using std::chrono::seconds;

constexpr auto kRestartTimeout = seconds(30);

}  // namespace

// notify=2000: the new version listens (and accepts, behind the hand-off
// barrier) at once but reports READY=1 only 2 s later. --restart returns
// only then; nothing fails meanwhile and no answer goes back a version.
void case_notify(Harness& h) {
  // The first start is ready by READY=1 too: sent as soon as it listens.
  h.start({{"--ready=notify", "--start-timeout=20s"}, "", {}, "notify=0"});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  h.write_startup("notify=2000");
  size_t from = h.log_cursor();
  CommandResult result = h.restart(kRestartTimeout);
  h.expect_restart_ok(result);
  check(result.seconds() >= 1.9,
        "--restart returned after {:.2f} s, before READY=1 (sent 2 s after "
        "listen)",
        result.seconds());
  h.note(fmt::format("restart_s={:.2f}", result.seconds()));
  if (h.fork_mode()) {
    h.wait_log(draining_line(old), from, "'new copy pid N is ready; draining'",
               seconds(5));
    h.mark_stale(0, Clock::now());
    expect_exit(old, Deadline(seconds(10)), "the old leader after draining");
  } else {
    h.mark_stale(0, Clock::now());
  }
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after READY=1");
  h.finish_load();
  h.stop_service();
}

// notify-never, a pre-fork server (a master and 2 workers, the workers
// waiting in accept): at --start-timeout the whole new generation is
// killed, the old one serves on, and then a version that reports goes in.
void case_notify_never(Harness& h) {
  check(h.fork_mode(), "this case is for fork mode only");
  h.start({{"--ready=notify", "--start-timeout=2s"},
           h.options().prefork,
           {"--workers", "2"},
           "notify=0"});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  h.write_startup("notify-never");
  CommandResult result = h.restart(kRestartTimeout);
  std::string why = h.expect_restart_failed(result, "within");
  check(result.seconds() >= 1.9 && result.seconds() < 15,
        "--restart took {:.2f} s; expected 2..15 s", result.seconds());
  h.note(fmt::format("reason='{}'", why));
  check(pid_alive(old), "the old leader {} is gone", old);
  // Exactly the old generation's three processes: none of the new one's.
  h.expect_back_to_baseline("after the failed restart", seconds(3));
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 0,
                   "after the failed restart");
  LoadStats stats = h.stats();
  check(h.version_count(stats, 1) == 0,
        "version 1 answered {} requests without reporting READY=1",
        h.version_count(stats, 1));
  h.write_body(2);
  h.write_startup("notify=0");
  h.expect_restart_ok(h.restart(kRestartTimeout));
  h.mark_stale(0, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 2,
                   "after the good version");
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test
