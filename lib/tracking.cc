#include "tracking.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

#include "generation.h"
#include "listener_table.h"
#include "log.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "signals.h"

namespace huptime {

namespace {

bool read_socket_id(int fd, SocketId* id) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int type = 0, protocol = 0, v6only = 0;
  socklen_t olen = sizeof(int);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return false;
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen);
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &olen);
  if (addr.ss_family == AF_INET6) {
    olen = sizeof(int);
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
  }
  return make_socket_id(addr.ss_family, type, protocol, v6only,
                        reinterpret_cast<sockaddr*>(&addr), len, id);
}

}  // namespace

void untrack(int fd) {
  std::atomic<uint32_t>* word = g_fds.word_of(fd);
  if (word && word->load(std::memory_order_acquire) != 0)
    forget_entry(fd, word->exchange(0, std::memory_order_acq_rel));
}

void forget_entry(int fd, uint32_t prev) {
  switch (entry_kind(prev)) {
    case FdKind::kConn:
      count_conn_closed();
      break;
    case FdKind::kListener:
    case FdKind::kRetired: {
      ListenerLock lock(g_listeners);
      Listener& l = g_listeners.at_unlocked(entry_slot(prev));
      for (int i = 0; i < l.nregs;) {
        if (l.regs[i].fd == fd)
          l.regs[i] = l.regs[--l.nregs];
        else
          ++i;
      }
      g_listeners.drop_ref_unlocked(entry_slot(prev));
      break;
    }
    case FdKind::kEpoll: {
      ListenerLock lock(g_listeners);
      g_listeners.forget_epoll_unlocked(fd);
      break;
    }
    default:
      break;
  }
}

void track_dup(int fd1, int fd2, bool cloexec) {
  uint32_t word = g_fds.get(fd1);
  switch (entry_kind(word)) {
    case FdKind::kConn:
      track_conn(fd2, word & kConnLinger);
      break;
    case FdKind::kListener:
    case FdKind::kRetired: {
      {
        ListenerLock lock(g_listeners);
        g_listeners.add_ref_unlocked(entry_slot(word));
      }
      real::fcntl(fd2, F_SETFD, FD_CLOEXEC);
      g_fds.exchange(fd2,
                     make_entry(entry_kind(word), entry_slot(word), cloexec));
      break;
    }
    default:
      break;
  }
}

bool socket_lingers(int fd) {
  linger value{};
  socklen_t len = sizeof value;
  return getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &len) == 0 &&
         value.l_onoff && value.l_linger > 0;
}

void note_linger(int fd, const void* value, socklen_t len) {
  if (!value || len < sizeof(linger)) return;
  const auto* l = static_cast<const linger*>(value);
  bool on = l->l_onoff && l->l_linger > 0;
  std::atomic<uint32_t>* word = g_fds.word_of(fd);
  uint32_t current = word ? word->load(std::memory_order_acquire) : 0;
  while (entry_kind(current) == FdKind::kConn) {
    uint32_t next = on ? current | kConnLinger : current & ~kConnLinger;
    if (word->compare_exchange_weak(current, next, std::memory_order_acq_rel))
      return;
  }
  if (entry_kind(current) == FdKind::kListener ||
      entry_kind(current) == FdKind::kRetired)
    g_listeners.set_linger(entry_slot(current), on);
}

void register_listener(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  SocketId id;
  if (!read_socket_id(fd, &id)) return;
  int fl = real::fcntl(fd, F_GETFL);
  int fdfl = real::fcntl(fd, F_GETFD);
  uint32_t slot;
  {
    ListenerLock lock(g_listeners);
    slot = g_listeners.find_inode_unlocked(st.st_ino);
    if (slot == 0) {
      slot = g_listeners.allocate_unlocked();
      if (slot == 0) {
        HUPTIME_LOG(kWarn, "too many listeners; fd {} is not tracked", fd);
        return;
      }
      Listener& l = g_listeners.at_unlocked(slot);
      l.inode = st.st_ino;
      l.id = id;
      g_listeners.set_nonblock(slot, fl >= 0 && (fl & O_NONBLOCK));
      g_listeners.set_linger(slot, socket_lingers(fd));
      if (is_unix_path(id)) {
        struct stat path_st;
        auto& un = reinterpret_cast<const sockaddr_un&>(id.addr);
        if (stat(un.sun_path, &path_st) == 0) {
          l.path_dev = path_st.st_dev;
          l.path_ino = path_st.st_ino;
        }
      }
    }
    Listener& l = g_listeners.at_unlocked(slot);
    l.listening = true;
    g_listeners.add_ref_unlocked(slot);
  }
  if (fl >= 0 && !(fl & O_NONBLOCK)) real::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  real::fcntl(fd, F_SETFD, FD_CLOEXEC);
  g_fds.exchange(fd, make_entry(FdKind::kListener, slot,
                                fdfl >= 0 && (fdfl & FD_CLOEXEC)));
  // Formatted only when logged (listeners.cc, listeners_bind).
  if (log_enabled(LogLevel::kDebug)) {
    char name[160];
    format_socket_id(id, name, sizeof name);
    HUPTIME_LOG(kDebug, "tracking listener fd {} on {}", fd, name);
  }
  on_first_listener();
}

void on_first_listener() {
  g_rt.has_program_listeners.store(true);
  if (!g_rt.active) return;
  gen_ensure(g_rt.generation.load());
  signals_install();
  restart_thread_ensure();
  gen_expect_wait();
}

}  // namespace huptime
