// When a new generation is ready, and the hand-off barrier that keeps it
// from accepting until the old generation has stopped (readiness.h).
#include "readiness.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "clock.h"
#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "master_link.h"
#include "our_fds.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "service_state.h"
#include "shared_state.h"
#include "systemd_link.h"

namespace huptime {

namespace {

// How much longer than the old generation's own deadline the barrier
// waits for it to hang up (gen_note_wait_slow).
constexpr int kBarrierMs = 2000;
// --ready=notify: how long a non-blocking accept() before READY=1 waits
// for the hand-off before it reports an empty queue (generation.h).
constexpr int kNotifyPeekMs = 2;

// Counts listeners still waiting for a bind(), and listeners claimed or
// created here that are not listening yet. Requires the listener lock.
bool all_taken_over_unlocked(int* count) {
  bool complete = true;
  *count = 0;
  g_listeners.for_each_unlocked([&](uint32_t, const Listener& l) {
    if (l.offered && !l.claimed) complete = false;
    if (!l.offered || l.claimed) {
      if (!l.listening) complete = false;
      ++*count;
    }
  });
  return complete && *count > 0;
}

void log_ready(const GenShared* page, int listeners) {
  HUPTIME_LOG(kInfo, "ready (generation {}, {} listener{})",
              page->generation.load(), listeners, listeners == 1 ? "" : "s");
}

// --ready=notify, a new copy: the old generation got our READY=1, marked
// us ready and hung up. Said once, by whichever thread sees the hang-up.
void log_notified_ready(const GenShared* page) {
  static constinit std::atomic<bool> logged{false};
  if (g_rt.config->ready != ReadyRule::kNotify || !page->ready.load() ||
      logged.exchange(true))
    return;
  HUPTIME_LOG(kInfo, "ready (generation {}, READY=1)", page->generation.load());
}

void release_starting_resources() {
  close_our_fd(OurFd::kReady);
  // Once, and never after this process stopped accepting: the offered
  // entries then are the copies exec mode saved for the next image.
  static constinit std::atomic<bool> released{false};
  if (g_stopped_accepting.load() || released.exchange(true)) return;
  // Listeners handed to us that no bind() claimed: the new version does
  // not use them. Our copy is the last one in this generation.
  g_fds.for_each([](int fd, uint32_t word) {
    if (entry_kind(word) != FdKind::kOffered) return;
    g_fds.exchange(fd, 0);
    g_offered_count.fetch_sub(1);
    {
      ListenerLock lock(g_listeners);
      g_listeners.drop_ref_unlocked(entry_slot(word));
    }
    HUPTIME_LOG(kInfo,
                "closing inherited listener fd {}: not used by the "
                "new version",
                fd);
    real::close(fd);
  });
}

}  // namespace

constinit std::atomic<bool> g_await_wait{false};

void gen_expect_wait() {
  GenShared* page = gen_page();
  if (page && !page->ready.load()) g_await_wait.store(true);
}

bool gen_note_wait_slow(bool accepting, bool nonblock) {
  GenShared* page = gen_page();
  if (!page) return true;
  int count = 0;
  {
    ListenerLock lock(g_listeners);
    if (!all_taken_over_unlocked(&count)) return true;
  }
  master_report_listeners();
  uint32_t expected = 0;
  // Pinned: the restart thread, or another of the program's threads, may
  // close it as soon as the old generation hangs up (our_fds.h).
  PinnedOurFd pinned(OurFd::kReady);
  int ready = pinned.fd();
  // With --ready=notify the program's READY=1 decides, and the process
  // that started us hears it; the first start has no one to tell.
  bool by_notify = g_rt.config->ready == ReadyRule::kNotify &&
                   (ready >= 0 || our_fd(OurFd::kOwnNotify) >= 0);
  if (!by_notify && page->ready.compare_exchange_strong(expected, 1)) {
    page->ready_ms.store(monotonic_ms());
    service_set_current(page->generation.load(), page->root_pid.load());
    if (page->generation.load() == 1) systemd_first_ready();
    if (ready >= 0) {
      log_ready(page, count);
      char byte = 'R';
      send(ready, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      shutdown(ready, SHUT_WR);
    } else {
      // Exec mode: no one else sees this restart end. What only a
      // starting image needs goes first: once the attempt has ended, a
      // restart may begin at any moment. The restart thread then looks for
      // a follow-up restart owed.
      g_await_wait.store(false);
      release_starting_resources();
      service_end_attempt(true, {});
      // Logged once the attempt has ended: whoever reads "ready" may
      // restart again at once, and that must not count as "during a
      // restart".
      log_ready(page, count);
      restart_poke();
    }
  }
  // The hand-off barrier: accept nothing until the old generation has
  // stopped accepting and hung up, so that once a client has seen the new
  // version it never gets the old one again. Connections wait in the
  // kernel's queue meanwhile (well under a millisecond). Bounded: an old
  // generation that does not answer does not hold us up for long.
  // Waiting is not accepting: with --ready=notify, only accept() waits
  // for READY=1 (generation.h), or the program would never send it.
  if (ready >= 0 && by_notify && !accepting) return true;
  // A non-blocking accept() before READY=1 (redis accepts while it loads
  // its data, to answer -LOADING) finds the queue "empty" instead: the old
  // generation takes the connection. A short wait keeps a program that
  // polls its listener meanwhile from spinning.
  bool peek = by_notify && accepting && nonblock;
  if (ready >= 0) {
    // With --ready=notify the old generation hangs up only after READY=1,
    // which may come long after the program first waits: up to the start
    // timeout, after which the old one kills us. Waiting longer than that
    // (by kBarrierMs) makes sure the kill comes first: a copy that never
    // said READY=1 must not answer a single request (it once did, for a
    // few milliseconds, when both deadlines were the start timeout).
    int barrier_ms =
        peek ? kNotifyPeekMs
        : by_notify
            ? static_cast<int>(g_rt.config->start_timeout_ms) + kBarrierMs
            : kBarrierMs;
    pollfd p{ready, POLLRDHUP, 0};
    int rc;
    do {
      rc = real::poll(&p, 1, barrier_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0 && peek) return false;
    HUPTIME_LOG(kDebug, "hand-off barrier: rc={} revents={:#x}", rc,
                static_cast<unsigned>(p.revents));
    if (rc == 0)
      HUPTIME_LOG(kWarn,
                  "the old generation did not confirm it stopped "
                  "accepting within {} ms; accepting anyway",
                  barrier_ms);
    // Not ready by the old generation's account yet (--ready=notify): the
    // ready socket stays open, its hang-up is how the old generation
    // learns that we are gone. The restart thread releases it later.
    if (rc == 0 && by_notify) {
      g_await_wait.store(false);
      return true;
    }
  }
  if (ready >= 0 && by_notify) log_notified_ready(page);
  pinned.release();
  g_await_wait.store(false);
  release_starting_resources();
  return true;
}

void gen_after_ready() {
  if (GenShared* page = gen_page()) log_notified_ready(page);
  release_starting_resources();
}

void gen_ready_notified() {
  GenShared* page = gen_page();
  close_our_fd(OurFd::kOwnNotify);
  uint32_t expected = 0;
  if (!page || !page->ready.compare_exchange_strong(expected, 1)) return;
  page->ready_ms.store(monotonic_ms());
  service_set_current(page->generation.load(), page->root_pid.load());
  if (page->generation.load() == 1) systemd_first_ready();
  service_end_attempt(true, {});
  HUPTIME_LOG(kInfo, "ready (generation {}, READY=1)", page->generation.load());
}

bool gen_is_ready() {
  GenShared* page = gen_page();
  return page && page->ready.load();
}

}  // namespace huptime
