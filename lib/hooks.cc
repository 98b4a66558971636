// The only file that defines libc's names. Each hook: make sure the library
// is initialised (falling back to the raw system call while it is being
// initialised on this thread), pass straight through when this process is
// not managed by huptime, else hand over to the plain C++ code that keeps
// the books. Results and errno are always those of the real call.

// Meson builds with _FILE_OFFSET_BITS=64, under which glibc's headers
// rename fcntl to fcntl64; here each hook must keep its own name.
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <alloca.h>
#include <cerrno>

#include "exec_hook.h"
#include "export.h"
#include "fd_table.h"
#include "generation.h"
#include "init.h"
#include "listeners.h"
#include "log.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "signals.h"

extern char** environ;

using namespace huptime;

constinit std::atomic<bool> huptime::g_cancel_requested{false};

namespace {

inline bool managed() { return g_rt.active; }

// HUPTIME_LOG=trace shows every hook call: how a test proves each hook is
// reached in a real program. Out of line and cold, so that the hooks' fast
// paths need no stack frame for it.
[[gnu::cold, gnu::noinline]] void trace_hook(const char* name) {
  int saved_errno = errno;
  HUPTIME_LOG(kTrace, "hook {}", name);
  errno = saved_errno;
}

#define HUPTIME_TRACE(name)                              \
  do {                                                   \
    if (log_enabled(LogLevel::kTrace)) trace_hook(name); \
  } while (0)

long arg_of(va_list ap) { return va_arg(ap, long); }

// The hooks on the hot path (accept, accept4, close) test this first and
// otherwise go to a cold twin that does what every hook does (init, trace,
// managed or not): the common case then needs no stack frame of its own.
inline bool hot_path_open() {
  return __builtin_expect(g_rt.hooks_fast.load(std::memory_order_acquire), 1);
}

// For hooks with no raw system call to fall back on while the library is
// being initialised on this thread (dlsym calling back into us): none of
// them is called from there in practice.
#define HUPTIME_ENSURE_INIT_OR_ENOSYS(failure) \
  do {                                         \
    if (!ensure_init()) {                      \
      errno = ENOSYS;                          \
      return failure;                          \
    }                                          \
  } while (0)

// execl and friends: collect the variadic argv on the stack.
#define HUPTIME_COLLECT_ARGV(first, ap, out)                              \
  size_t count_ = 1;                                                      \
  {                                                                       \
    va_list probe_;                                                       \
    va_copy(probe_, ap);                                                  \
    while (va_arg(probe_, char*)) ++count_;                               \
    va_end(probe_);                                                       \
  }                                                                       \
  char** out = static_cast<char**>(alloca((count_ + 1) * sizeof(char*))); \
  out[0] = const_cast<char*>(first);                                      \
  for (size_t i_ = 1; i_ <= count_; ++i_) out[i_] = va_arg(ap, char*);

}  // namespace

HUPTIME_EXPORT int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  if (!ensure_init())
    return static_cast<int>(
        raw_syscall_errno(SYS_bind, fd, reinterpret_cast<long>(addr), len));
  HUPTIME_TRACE("bind");
  int rc;
  if (managed() && listeners_bind(fd, addr, len, &rc)) return rc;
  return real::bind(fd, addr, len);
}

HUPTIME_EXPORT int listen(int fd, int backlog) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_listen, fd, backlog));
  HUPTIME_TRACE("listen");
  return managed() ? listeners_listen(fd, backlog) : real::listen(fd, backlog);
}

namespace {

[[gnu::cold, gnu::noinline]] int accept_cold(int fd, struct sockaddr* addr,
                                             socklen_t* len) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_accept, fd,
                                              reinterpret_cast<long>(addr),
                                              reinterpret_cast<long>(len)));
  HUPTIME_TRACE("accept");
  return managed() ? listeners_accept(fd, addr, len, 0, false)
                   : real::accept(fd, addr, len);
}

[[gnu::cold, gnu::noinline]] int accept4_cold(int fd, struct sockaddr* addr,
                                              socklen_t* len, int flags) {
  if (!ensure_init())
    return static_cast<int>(
        raw_syscall_errno(SYS_accept4, fd, reinterpret_cast<long>(addr),
                          reinterpret_cast<long>(len), flags));
  HUPTIME_TRACE("accept4");
  return managed() ? listeners_accept(fd, addr, len, flags, true)
                   : real::accept4(fd, addr, len, flags);
}

[[gnu::cold, gnu::noinline]] int close_cold(int fd) {
  if (!ensure_init()) return static_cast<int>(raw_syscall_errno(SYS_close, fd));
  HUPTIME_TRACE("close");
  return managed() ? fd_close(fd) : real::close(fd);
}

}  // namespace

HUPTIME_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  if (hot_path_open()) return listeners_accept(fd, addr, len, 0, false);
  return accept_cold(fd, addr, len);
}

HUPTIME_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* len,
                           int flags) {
  if (hot_path_open()) return listeners_accept(fd, addr, len, flags, true);
  return accept4_cold(fd, addr, len, flags);
}

HUPTIME_EXPORT int close(int fd) {
  if (hot_path_open()) return fd_close(fd);
  return close_cold(fd);
}

HUPTIME_EXPORT int close_range(unsigned int first, unsigned int last,
                               int flags) {
  if (!ensure_init())
    return static_cast<int>(
        raw_syscall_errno(SYS_close_range, first, last, flags));
  HUPTIME_TRACE("close_range");
  if (managed()) return fd_close_range(first, last, flags);
  if (real::close_range) return real::close_range(first, last, flags);
  return static_cast<int>(
      raw_syscall_errno(SYS_close_range, first, last, flags));
}

HUPTIME_EXPORT int dup(int fd) {
  if (!ensure_init()) return static_cast<int>(raw_syscall_errno(SYS_dup, fd));
  HUPTIME_TRACE("dup");
  return managed() ? fd_dup(fd) : real::dup(fd);
}

HUPTIME_EXPORT int dup2(int oldfd, int newfd) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_dup3, oldfd, newfd, 0));
  HUPTIME_TRACE("dup2");
  return managed() ? fd_dup3(oldfd, newfd, 0, true) : real::dup2(oldfd, newfd);
}

HUPTIME_EXPORT int dup3(int oldfd, int newfd, int flags) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_dup3, oldfd, newfd, flags));
  HUPTIME_TRACE("dup3");
  return managed() ? fd_dup3(oldfd, newfd, flags, false)
                   : real::dup3(oldfd, newfd, flags);
}

HUPTIME_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = arg_of(ap);
  va_end(ap);
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_fcntl, fd, cmd, arg));
  HUPTIME_TRACE("fcntl");
  void* p = reinterpret_cast<void*>(arg);
  return managed() ? fd_fcntl(fd, cmd, p) : real::fcntl(fd, cmd, p);
}

HUPTIME_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = arg_of(ap);
  va_end(ap);
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_fcntl, fd, cmd, arg));
  HUPTIME_TRACE("fcntl64");
  void* p = reinterpret_cast<void*>(arg);
  if (managed()) return fd_fcntl(fd, cmd, p);
  return real::fcntl64 ? real::fcntl64(fd, cmd, p) : real::fcntl(fd, cmd, p);
}

HUPTIME_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  long arg = arg_of(ap);
  va_end(ap);
  if (!ensure_init())
    return static_cast<int>(
        raw_syscall_errno(SYS_ioctl, fd, static_cast<long>(request), arg));
  HUPTIME_TRACE("ioctl");
  void* p = reinterpret_cast<void*>(arg);
  return managed() ? fd_ioctl(fd, request, p) : real::ioctl(fd, request, p);
}

// The listener lock is held across fork by atfork handlers (init.cc), so
// the child never inherits it locked; here only the child's bookkeeping.
HUPTIME_EXPORT pid_t fork(void) {
  if (!ensure_init() || !real::fork) {
    errno = ENOSYS;
    return -1;
  }
  HUPTIME_TRACE("fork");
  if (!managed()) return real::fork();
  pid_t pid = real::fork();
  if (pid == 0) {
    int saved_errno = errno;
    g_rt.pid.store(static_cast<pid_t>(raw_syscall6(SYS_getpid)));
    our_fds_after_fork_child();
    restart_after_fork_child();
    gen_after_fork_child();
    errno = saved_errno;
  } else if (pid > 0) {
    int saved_errno = errno;
    restart_after_fork_parent();
    errno = saved_errno;
  }
  return pid;
}

HUPTIME_EXPORT int execve(const char* path, char* const argv[],
                          char* const envp[]) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(
        SYS_execve, reinterpret_cast<long>(path), reinterpret_cast<long>(argv),
        reinterpret_cast<long>(envp)));
  HUPTIME_TRACE("execve");
  return exec_hook(ExecKind::kPath, path, argv, envp);
}

HUPTIME_EXPORT int execv(const char* path, char* const argv[]) {
  if (!ensure_init()) return execve(path, argv, environ);
  HUPTIME_TRACE("execv");
  return exec_hook(ExecKind::kPath, path, argv, environ);
}

HUPTIME_EXPORT int execvp(const char* file, char* const argv[]) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("execvp");
  return exec_hook(ExecKind::kSearch, file, argv, environ);
}

HUPTIME_EXPORT int execvpe(const char* file, char* const argv[],
                           char* const envp[]) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("execvpe");
  return exec_hook(ExecKind::kSearch, file, argv, envp);
}

HUPTIME_EXPORT int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  HUPTIME_COLLECT_ARGV(arg, ap, argv);
  va_end(ap);
  if (!ensure_init()) return execve(path, argv, environ);
  HUPTIME_TRACE("execl");
  return exec_hook(ExecKind::kPath, path, argv, environ);
}

HUPTIME_EXPORT int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  HUPTIME_COLLECT_ARGV(arg, ap, argv);
  va_end(ap);
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("execlp");
  return exec_hook(ExecKind::kSearch, file, argv, environ);
}

HUPTIME_EXPORT int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  HUPTIME_COLLECT_ARGV(arg, ap, argv);
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  if (!ensure_init()) return execve(path, argv, envp);
  HUPTIME_TRACE("execle");
  return exec_hook(ExecKind::kPath, path, argv, envp);
}

HUPTIME_EXPORT int epoll_ctl(int epfd, int op, int fd,
                             struct epoll_event* event) {
  // A server adds every connection it accepts (nginx, node...): only a
  // listener's registrations need the bookkeeping, and epoll_ctl is no
  // cancellation point, so the others are the bare system call.
  if (hot_path_open() && !is_listener_kind(g_fds.get(fd)))
    return static_cast<int>(raw_syscall_errno(SYS_epoll_ctl, epfd, op, fd,
                                              reinterpret_cast<long>(event)));
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_epoll_ctl, epfd, op, fd,
                                              reinterpret_cast<long>(event)));
  HUPTIME_TRACE("epoll_ctl");
  return managed() ? listeners_epoll_ctl(epfd, op, fd, event)
                   : real::epoll_ctl(epfd, op, fd, event);
}

HUPTIME_EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("poll");
  if (managed()) listeners_note_poll(fds, n);
  return real::poll(fds, n, timeout);
}

HUPTIME_EXPORT int ppoll(struct pollfd* fds, nfds_t n,
                         const struct timespec* timeout, const sigset_t* mask) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("ppoll");
  if (managed()) listeners_note_poll(fds, n);
  return real::ppoll(fds, n, timeout, mask);
}

HUPTIME_EXPORT int select(int nfds, fd_set* r, fd_set* w, fd_set* e,
                          struct timeval* timeout) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("select");
  if (managed()) listeners_note_select(nfds, r);
  return real::select(nfds, r, w, e, timeout);
}

HUPTIME_EXPORT int pselect(int nfds, fd_set* r, fd_set* w, fd_set* e,
                           const struct timespec* timeout,
                           const sigset_t* mask) {
  HUPTIME_ENSURE_INIT_OR_ENOSYS(-1);
  HUPTIME_TRACE("pselect");
  if (managed()) listeners_note_select(nfds, r);
  return real::pselect(nfds, r, w, e, timeout, mask);
}

HUPTIME_EXPORT int sigaction(int sig, const struct sigaction* act,
                             struct sigaction* old) {
  if (!ensure_init() || !real::sigaction) {
    errno = ENOSYS;
    return -1;
  }
  HUPTIME_TRACE("sigaction");
  int rc;
  if (managed() && signals_sigaction(sig, act, old, &rc)) return rc;
  return real::sigaction(sig, act, old);
}

HUPTIME_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (!ensure_init() || !real::signal) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  HUPTIME_TRACE("signal");
  sighandler_t rc;
  if (managed() && signals_signal(sig, handler, &rc)) return rc;
  return real::signal(sig, handler);
}

// Only noted: from now on the fast paths of accept and close check for a
// pending cancellation (runtime.h). Noted before the request exists, so
// that the thread cancelled cannot miss it.
HUPTIME_EXPORT int pthread_cancel(pthread_t thread) {
  g_cancel_requested.store(true);
  if (!ensure_init()) return ENOSYS;
  HUPTIME_TRACE("pthread_cancel");
  return real::pthread_cancel(thread);
}

HUPTIME_EXPORT int setsockopt(int fd, int level, int name, const void* value,
                              socklen_t len) {
  // Servers set options on every connection (TCP_NODELAY...); only
  // SO_LINGER is noted. No cancellation point: the bare system call.
  if (hot_path_open() && (level != SOL_SOCKET || name != SO_LINGER))
    return static_cast<int>(raw_syscall_errno(
        SYS_setsockopt, fd, level, name, reinterpret_cast<long>(value), len));
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(
        SYS_setsockopt, fd, level, name, reinterpret_cast<long>(value), len));
  HUPTIME_TRACE("setsockopt");
  return managed() ? fd_setsockopt(fd, level, name, value, len)
                   : real::setsockopt(fd, level, name, value, len);
}

HUPTIME_EXPORT int unlink(const char* path) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(SYS_unlinkat, AT_FDCWD,
                                              reinterpret_cast<long>(path), 0));
  HUPTIME_TRACE("unlink");
  if (managed() && listeners_keep_path(AT_FDCWD, path)) return 0;
  return real::unlink(path);
}

HUPTIME_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  if (!ensure_init())
    return static_cast<int>(raw_syscall_errno(
        SYS_unlinkat, dirfd, reinterpret_cast<long>(path), flags));
  HUPTIME_TRACE("unlinkat");
  if (managed() && !(flags & AT_REMOVEDIR) && listeners_keep_path(dirfd, path))
    return 0;
  return real::unlinkat(dirfd, path, flags);
}

// libuv (node) accepts and closes through syscall(). Never resolves
// anything: jemalloc calls syscall() while we may still be initialising.
HUPTIME_EXPORT long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (!g_rt.ready.load(std::memory_order_acquire) || !managed())
    return raw_syscall_errno(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  int fd = static_cast<int>(a[0]);
  switch (nr) {
    case SYS_close:
      HUPTIME_TRACE("syscall(close)");
      return fd_close(fd);
    case SYS_accept:
    case SYS_accept4:
      HUPTIME_TRACE("syscall(accept4)");
      return listeners_accept(fd, reinterpret_cast<sockaddr*>(a[1]),
                              reinterpret_cast<socklen_t*>(a[2]),
                              nr == SYS_accept4 ? static_cast<int>(a[3]) : 0,
                              true);
    case SYS_bind: {
      HUPTIME_TRACE("syscall(bind)");
      int rc;
      if (listeners_bind(fd, reinterpret_cast<const sockaddr*>(a[1]),
                         static_cast<socklen_t>(a[2]), &rc))
        return rc;
      break;
    }
    case SYS_listen:
      HUPTIME_TRACE("syscall(listen)");
      return listeners_listen(fd, static_cast<int>(a[1]));
    case SYS_dup:
      return fd_dup(fd);
    case SYS_dup3:
      return fd_dup3(fd, static_cast<int>(a[1]), static_cast<int>(a[2]), false);
#ifdef SYS_dup2
    case SYS_dup2:
      return fd_dup3(fd, static_cast<int>(a[1]), 0, true);
#endif
    case SYS_fcntl:
      return fd_fcntl(fd, static_cast<int>(a[1]),
                      reinterpret_cast<void*>(a[2]));
    case SYS_close_range:
      return fd_close_range(static_cast<unsigned>(a[0]),
                            static_cast<unsigned>(a[1]),
                            static_cast<int>(a[2]));
    case SYS_setsockopt:
      return fd_setsockopt(fd, static_cast<int>(a[1]), static_cast<int>(a[2]),
                           reinterpret_cast<const void*>(a[3]),
                           static_cast<socklen_t>(a[4]));
    case SYS_epoll_ctl:
      return listeners_epoll_ctl(fd, static_cast<int>(a[1]),
                                 static_cast<int>(a[2]),
                                 reinterpret_cast<epoll_event*>(a[3]));
    default:
      break;
  }
  return raw_syscall_errno(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
