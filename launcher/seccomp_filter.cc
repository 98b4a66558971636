#include "seccomp_filter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace huptime {

namespace {

#if defined(__x86_64__)
constexpr unsigned kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kNativeArch = AUDIT_ARCH_AARCH64;
#else
#error "seccomp interception: add this architecture's AUDIT_ARCH"
#endif

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

constexpr int kTrapped[] = {
    SYS_bind,     SYS_listen,         SYS_shutdown,
#ifdef SYS_unlink
    SYS_unlink,
#endif
    SYS_unlinkat, SYS_io_uring_setup,
};
constexpr size_t kTrappedCount = sizeof kTrapped / sizeof kTrapped[0];

constexpr sock_filter statement(unsigned short code, unsigned k) {
  return sock_filter{code, 0, 0, k};
}
constexpr sock_filter jump(unsigned short code, unsigned k, unsigned char jt,
                           unsigned char jf) {
  return sock_filter{code, jt, jf, k};
}

// arch check, then one comparison per trapped call, then ALLOW; a match
// jumps to the USER_NOTIF return at the end.
//   0: ld arch          1: jeq native ? 2 : allow      2: ld nr
//   3..3+n-1: jeq call ? notif : next                   3+n: ret ALLOW
//   3+n+1: ret USER_NOTIF
constexpr size_t kProgramSize = 3 + kTrappedCount + 2;

struct Program {
  sock_filter code[kProgramSize];
};

constexpr Program make_program() {
  Program p{};
  const auto allow = static_cast<unsigned char>(kTrappedCount + 1);
  p.code[0] = statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  p.code[1] = jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 0, allow);
  p.code[2] = statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  for (size_t i = 0; i < kTrappedCount; ++i) {
    // From instruction 3+i, the notify return is kTrappedCount-i+1 ahead.
    auto to_notify = static_cast<unsigned char>(kTrappedCount - i);
    p.code[3 + i] = jump(BPF_JMP | BPF_JEQ | BPF_K,
                         static_cast<unsigned>(kTrapped[i]), to_notify, 0);
  }
  p.code[3 + kTrappedCount] = statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  p.code[4 + kTrappedCount] =
      statement(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
  return p;
}

constexpr Program kProgram = make_program();

int seccomp_filter(unsigned long flags) {
  sock_fprog prog{static_cast<unsigned short>(kProgramSize),
                  const_cast<sock_filter*>(kProgram.code)};
  return static_cast<int>(
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog));
}

}  // namespace

int install_syscall_filter() {
  const unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // WAIT_KILLABLE_RECV (Linux 5.19): once the master has read a bind, a
    // signal to the program cannot interrupt it half-handled.
    int fd = seccomp_filter(flags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    if (fd < 0 && errno == EINVAL) fd = seccomp_filter(flags);
    if (fd >= 0 || errno != EACCES || attempt > 0) return fd;
    // Not privileged: the kernel wants no_new_privs (a set-uid program
    // started by the service then runs without gaining privileges).
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  }
  return -1;
}

int send_fd(int channel, int fd) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  char byte = 'F';
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do {
    n = sendmsg(channel, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

int receive_fd(int channel) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  char byte;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      c->cmsg_len != CMSG_LEN(sizeof(int)))
    return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

}  // namespace huptime
