#include "master_link.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "generation.h"
#include "handoff.h"
#include "listeners.h"
#include "log.h"
#include "master_protocol.h"
#include "our_fds.h"
#include "runtime.h"

namespace huptime {

namespace {

// Sends the report, once. Out of line from master_report_listeners, so
// that the test every server's start-up makes (lib/startup_order.ld) does
// not bring the ~1 KB that build and send the report into its window.
[[gnu::noinline]] void report_once() {
  static constinit std::atomic<bool> reported{false};
  if (reported.exchange(true)) return;
  PinnedOurFd master(OurFd::kMaster);
  if (master.fd() < 0) return;
  Handoff mine;
  listeners_collect(&mine, false);
  MasterReport report{};
  report.magic = MasterReport::kMagic;
  report.generation = gen_number();
  report.pid = g_rt.pid.load();
  int n = mine.n_listen < MasterReport::kMaxFds ? mine.n_listen
                                                : MasterReport::kMaxFds;
  report.n_fds = static_cast<uint32_t>(n);
  int fds[MasterReport::kMaxFds];
  for (int i = 0; i < n; ++i) {
    fds[i] = mine.listen[i].fd;
    report.inodes[i] = mine.listen[i].inode;
  }
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  iovec iov{&report, sizeof report};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<size_t>(n));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<size_t>(n));
    memcpy(CMSG_DATA(c), fds, sizeof(int) * static_cast<size_t>(n));
  }
  int saved = errno;
  if (sendmsg(master.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    HUPTIME_LOG(kWarn, "cannot report listeners to the master: {}",
                strerror(errno));
  else
    HUPTIME_LOG(kDebug, "reported {} listener{} to the master", n,
                n == 1 ? "" : "s");
  errno = saved;
}

}  // namespace

void master_report_listeners() {
  if (our_fd(OurFd::kMaster) >= 0) report_once();
}

}  // namespace huptime
