// Bookkeeping shared by the fd hooks (fd_ops.cc) and the listener logic
// (listeners.cc): how an fd enters and leaves the fd table.
#pragma once

#include "fd_table.h"

namespace huptime {

// A connection was accepted into fd. Lock-free.
void track_conn(int fd);

// fd is about to be closed or replaced: forget what it was. Lock-free for
// connections; takes the listener lock for listeners.
void untrack(int fd);

// fd2 is now a duplicate of fd1 (dup, dup2, dup3, F_DUPFD*). `cloexec` is
// the FD_CLOEXEC the program asked for on fd2.
void track_dup(int fd1, int fd2, bool cloexec);

// Starts tracking a socket the program listen()ed on. Cold path.
void register_listener(int fd);

// Common set-up once this process has a listener: the generation state,
// the restart signal handler and the restart thread.
void on_first_listener();

}  // namespace huptime
