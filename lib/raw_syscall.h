// System calls without libc: usable before the real-function table is filled
// (another library's constructor may call our hooks first), inside the
// syscall() hook, in signal handlers and between clone and exec.
#pragma once

#include <cerrno>

// For code that runs on a stack of our own after clone(CLONE_VM)
// (preflight.cc's keeper and its shell's side of the vfork, spawn.cc's
// child): ASan's stack instrumentation poisons redzones in the shadow of
// that mapping, which ASan does not know as a stack, and a frame that
// never returns (exec, exit) leaves them poisoned for the next frame or
// the next mapping at that address: false reports. That code makes system
// calls only and is left uninstrumented; other builds ignore the
// attribute.
#define HUPTIME_CLONE_STACK __attribute__((no_sanitize("address")))

namespace huptime {

// Returns the kernel's result: >= 0, or -errno. async-signal-safe.
// Always inlined, at -O0 too: preflight.cc's clone(CLONE_VM | CLONE_VFORK)
// with no stack of its own must not return through a frame of ours, which
// the child's calls below the caller's frame overwrite (the parent would
// then return to the child's return address).
__attribute__((always_inline)) inline long raw_syscall6(
    long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
    long a6 = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8),
                     "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
#else
#error "huptime: raw system calls are implemented for x86_64 and aarch64 only"
#endif
}

// The same for the hot hooks' calls (fd_ops.cc, listeners.cc), without
// loading the registers of arguments they do not have.
__attribute__((always_inline)) inline long raw_syscall1(long nr, long a1) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1)
                   : "rcx", "r11", "memory");
  return ret;
#else
  return raw_syscall6(nr, a1);
#endif
}

__attribute__((always_inline)) inline long raw_syscall4(long nr, long a1,
                                                        long a2, long a3,
                                                        long a4) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = a4;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
#else
  return raw_syscall6(nr, a1, a2, a3, a4);
#endif
}

// A raw result in libc's convention: -1 with errno set on failure.
inline long errno_result(long ret) {
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

// libc convention: -1 with errno set on failure. async-signal-safe.
inline long raw_syscall_errno(long nr, long a1 = 0, long a2 = 0, long a3 = 0,
                              long a4 = 0, long a5 = 0, long a6 = 0) {
  long ret = raw_syscall6(nr, a1, a2, a3, a4, a5, a6);
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

}  // namespace huptime
