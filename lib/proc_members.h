// Finding the processes of a generation through /proc: every process of a
// generation keeps its generation page (a memfd) open, whatever it did to
// its process group or parent (daemons fork twice and setsid), so "holds
// an fd to this file" is the membership test.
//
// Cold path (a failed restart); allocates. Processes of other users are
// skipped: /proc/PID/fd of those is not readable, and they are not ours.
#pragma once

#include <sys/types.h>

namespace huptime {

// Sends sig to every process (but this one) holding an fd whose (st_dev,
// st_ino) is (dev, ino). Returns how many were signalled.
int signal_holders(dev_t dev, ino_t ino, int sig);

// SIGKILLs the holders until none is left, at most timeout_ms (a process
// may fork while we look). Returns true when none is left.
bool kill_all_holders(dev_t dev, ino_t ino, int timeout_ms);

}  // namespace huptime
