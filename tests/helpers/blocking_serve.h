// Blocking serving, as the simplest servers do it: accept(2) in a loop and
// handle each connection with blocking reads and writes.
#pragma once

#include "server.h"

namespace huptime::test {

// Accepts one connection, blocking; with --nonblock listeners, waits in
// poll(2) when accept says EAGAIN. accept4(SOCK_CLOEXEC) with --cloexec,
// plain accept(2) otherwise. Returns the connection, or -1 after a transient
// error (EINTR, ECONNABORTED, EMFILE...) that the caller just retries. A
// listener that is unusable (EBADF, EINVAL, ENOTSOCK...) ends the program
// with status 1: a real server that loses its socket stops serving too, and
// a test must see it.
int accept_blocking(const Server& server, int listener);

// Reads the request head (bounded), waits --delay-ms, sends the response and
// closes `fd`. A client that goes away early just gets its socket closed.
void serve_connection(const Server& server, int fd);

// The one listener of a server built around a single blocking accept; exits
// with a usage message if there are several.
int single_listener(const Server& server);

// Serves `listener` forever, one connection at a time.
[[noreturn]] void run_accept_loop(const Server& server, int listener);

// Serves every listener forever: one accepting thread per listener (the
// calling thread takes the first), a detached thread per connection.
[[noreturn]] void run_threaded(const Server& server);

}  // namespace huptime::test
