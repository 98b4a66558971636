// Bookkeeping shared by the fd hooks (fd_ops.cc) and the listener logic
// (listeners.cc): how an fd enters and leaves the fd table.
#pragma once

#include <sys/socket.h>

#include "fd_table.h"
#include "generation.h"
#include "restart.h"
#include "runtime.h"

namespace huptime {

// The connection counts (this process's, and its slot in the generation's
// page) after a connection was opened or closed. Lock-free; a draining
// process's last close wakes the restart thread.
inline void count_conn_opened() {
  g_conns.fetch_add(1, std::memory_order_relaxed);
  gen_count_conns(1);
}
inline void count_conn_closed() {
  gen_count_conns(-1);
  if (g_conns.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      g_stopped_accepting.load(std::memory_order_relaxed))
    restart_poke();
}

// A connection was accepted into fd; `linger`: its socket has SO_LINGER
// with a timeout. Lock-free. Inline: every accept of a tracked connection
// does it; the table lookup and one exchange.
inline void track_conn(int fd, bool linger) {
  uint32_t entry =
      make_entry(FdKind::kConn, 0, false) | (linger ? kConnLinger : 0);
  std::atomic<uint32_t>* word = g_fds.word_of(fd);
  uint32_t prev = word ? word->exchange(entry, std::memory_order_acq_rel)
                       : g_fds.exchange(fd, entry);
  if (entry_kind(prev) != FdKind::kConn) count_conn_opened();
}

// What untrack() does once the word is cleared: `prev` is what fd was.
// Lock-free for connections; takes the listener lock for listeners.
void forget_entry(int fd, uint32_t prev);

// fd is about to be closed or replaced: forget what it was.
void untrack(int fd);

// fd2 is now a duplicate of fd1 (dup, dup2, dup3, F_DUPFD*). `cloexec` is
// the FD_CLOEXEC the program asked for on fd2.
void track_dup(int fd1, int fd2, bool cloexec);

// Whether closing the socket may block: SO_LINGER on, with a timeout. One
// getsockopt; for listeners as they are first tracked (cold).
bool socket_lingers(int fd);

// After the program set SO_LINGER on fd (setsockopt succeeded with
// `value`): what accepted connections inherit, or whether this
// connection's close may block.
void note_linger(int fd, const void* value, socklen_t len);

// Starts tracking a socket the program listen()ed on. Cold path.
void register_listener(int fd);

// Common set-up once this process has a listener: the generation state,
// the restart signal handler and the restart thread.
void on_first_listener();

}  // namespace huptime
