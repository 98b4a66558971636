// Both ends of the hand-off: which listeners a new copy gets, and taking
// them over (checked) when the library starts in that copy.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "our_fds.h"
#include "real.h"
#include "runtime.h"
#include "tracking.h"

namespace huptime {

namespace {

bool add_unique(FdInode* items, int* n, int fd, uint64_t inode) {
  for (int i = 0; i < *n; ++i)
    if (items[i].inode == inode) return false;
  if (*n >= Handoff::kMaxFds) return false;
  items[(*n)++] = FdInode{fd, inode};
  return true;
}

// The fd must be a listening socket with the inode the sender saw: never
// adopt a descriptor that is not the socket the variable claims it is.
bool check_listener(int fd, uint64_t inode, SocketId* id) {
  struct stat st;
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_ino != inode ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
      !accepting) {
    HUPTIME_LOG(kWarn,
                "inherited fd {} is not the listening socket the "
                "hand-off names; ignoring it",
                fd);
    return false;
  }
  sockaddr_storage addr{};
  socklen_t alen = sizeof addr;
  int type = 0, protocol = 0, v6only = 0;
  socklen_t olen = sizeof(int);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen);
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen);
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &olen);
  olen = sizeof(int);
  if (addr.ss_family == AF_INET6)
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
  return make_socket_id(addr.ss_family, type, protocol, v6only,
                        reinterpret_cast<sockaddr*>(&addr), alen, id);
}

}  // namespace

void listeners_collect(Handoff* out, bool saved_copies) {
  FdKind wanted = saved_copies ? FdKind::kOffered : FdKind::kListener;
  ListenerLock lock(g_listeners);
  g_fds.for_each([&](int fd, uint32_t word) {
    if (entry_kind(word) != wanted) return;
    add_unique(out->listen, &out->n_listen, fd,
               g_listeners.at_unlocked(entry_slot(word)).inode);
  });
}

void listeners_adopt(const Handoff& h) {
  for (int i = 0; i < h.n_listen + h.n_own; ++i) {
    bool own = i >= h.n_listen;
    const FdInode& item = own ? h.own[i - h.n_listen] : h.listen[i];
    SocketId id;
    if (!check_listener(item.fd, item.inode, &id)) continue;
    int fl = real::fcntl(item.fd, F_GETFL);
    if (fl >= 0) real::fcntl(item.fd, F_SETFL, fl | O_NONBLOCK);
    real::fcntl(item.fd, F_SETFD, FD_CLOEXEC);
    uint32_t slot;
    {
      ListenerLock lock(g_listeners);
      slot = g_listeners.allocate_unlocked();
      if (slot == 0) break;
      Listener& l = g_listeners.at_unlocked(slot);
      l.inode = item.inode;
      l.id = id;
      l.offered = !own;
      l.listening = own;
      g_listeners.set_nonblock(slot, own && fl >= 0 && (fl & O_NONBLOCK));
      g_listeners.set_linger(slot, socket_lingers(item.fd));
      if (is_unix_path(id)) {
        struct stat st;
        auto& un = reinterpret_cast<const sockaddr_un&>(id.addr);
        if (stat(un.sun_path, &st) == 0) {
          l.path_dev = st.st_dev;
          l.path_ino = st.st_ino;
        }
      }
      g_listeners.add_ref_unlocked(slot);
    }
    // Only when logged: format_socket_id's inet_ntop uses sprintf, whose
    // code is libc windows a new generation's start-up needs nowhere else.
    char name[160] = "";
    if (log_enabled(LogLevel::kDebug)) format_socket_id(id, name, sizeof name);
    if (own) {
      g_fds.exchange(item.fd, make_entry(FdKind::kListener, slot, false));
      HUPTIME_LOG(kDebug, "kept listener fd {} on {} across exec", item.fd,
                  name);
    } else {
      adopt_offered_fd(item.fd, slot);
      g_offered_count.fetch_add(1);
      HUPTIME_LOG(kDebug, "inherited listener fd {} on {}", item.fd, name);
    }
  }
}

}  // namespace huptime
