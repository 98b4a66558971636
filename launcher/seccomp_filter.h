// The system call filter that lets `huptime --master` see the sockets of a
// program the preloaded library cannot reach (static and Go programs,
// which make their own system calls): installed in the child between fork
// and exec, inherited by everything the program starts.
//
// bind, listen, shutdown, unlink, unlinkat and io_uring_setup stop in the
// kernel until the master answers them through the notification fd
// (seccomp_broker.h); every other call runs untouched (about 15 ns more).
// A call made under another architecture's ABI is allowed: the broker
// decodes native calls only.
#pragma once

namespace huptime {

// In the child, after fork and before exec: only system calls, no
// allocation. Sets PR_SET_NO_NEW_PRIVS only when the kernel requires it
// (no CAP_SYS_ADMIN). Returns the notification fd (close-on-exec), or -1
// with errno set.
int install_syscall_filter();

// Sends `fd` over the connected UNIX socket `channel` (SCM_RIGHTS, one
// byte of data). Only system calls. Returns 0 or -1 with errno set.
int send_fd(int channel, int fd);

// Receives one fd sent by send_fd(), close-on-exec, without blocking.
// Returns -1 when none is waiting.
int receive_fd(int channel);

}  // namespace huptime
