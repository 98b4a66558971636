// What the hooks do with listening sockets and their connections.
//
// - bind(): in a new generation, a bind() to an address it inherited is
//   answered with the inherited socket (dup3 over the program's fresh one),
//   so the kernel's accept queue never closes.
// - listen(): starts tracking the socket. The library keeps every listener
//   non-blocking and close-on-exec in the kernel (the open file is shared
//   with the other generation, so its flags cannot be the program's
//   business) and keeps the program's view of O_NONBLOCK and FD_CLOEXEC,
//   which fcntl/ioctl report and accept() honours.
// - accept(): counts connections; for a listener the program thinks
//   blocking, waits with poll() on the listener and the drain latch, so a
//   draining process is never stuck inside accept() on a shared queue.
// - stop accepting (retire): each listener fd is replaced by a placeholder
//   that never becomes readable; its epoll registrations move with it.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

#include "handoff.h"

namespace huptime {

// Each returns the result the libc function would, errno included.
bool listeners_bind(int fd, const sockaddr* addr, socklen_t len, int* rc);
int listeners_listen(int fd, int backlog);
int listeners_accept(int fd, sockaddr* addr, socklen_t* len, int flags,
                     bool accept4);

int fd_close(int fd);
int fd_close_range(unsigned first, unsigned last, int flags);
int fd_dup(int fd);
int fd_dup3(int oldfd, int newfd, int flags, bool is_dup2);
int fd_fcntl(int fd, int cmd, void* arg);
int fd_ioctl(int fd, unsigned long request, void* arg);
int fd_setsockopt(int fd, int level, int name, const void* value,
                  socklen_t len);
int listeners_epoll_ctl(int epfd, int op, int fd, epoll_event* event);

// Readiness: the program waits on these fds.
void listeners_note_poll(const pollfd* fds, nfds_t n);
void listeners_note_select(int nfds, const fd_set* readfds);

// unlink()/unlinkat() of the file of a UNIX listener that a starting or a
// draining generation depends on is skipped (and reported as success).
bool listeners_keep_path(int dirfd, const char* path);

// Restarts (restart.cc).
void listeners_stop_accepting(bool keep_copies);
void listeners_resume_accepting();
// Which listeners a new copy gets: the program's own (fork mode) or the
// copies kept by listeners_stop_accepting (exec mode).
void listeners_collect(Handoff* out, bool saved_copies);
// The connections still open in this process, rechecked against the
// kernel (closes that bypassed the hooks, such as fclose()).
long listeners_sweep_conns();

// Init: take over what the previous generation handed us.
void listeners_adopt(const Handoff& handoff);

}  // namespace huptime
