// srv_poll: poll(2) over the listeners, then a blocking accept on each ready
// one and the connection served inline, as Python's socketserver does. Note
// the classic hazard this shape has and real servers share: if another
// process takes the connection between poll and accept, accept blocks.
#include <errno.h>
#include <poll.h>

#include <vector>

#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

namespace {

[[noreturn]] void run_poll_loop(const Server& server) {
  std::vector<pollfd> fds;
  for (int fd : server.listeners) fds.push_back({fd, POLLIN, 0});
  for (;;) {
    int ready = poll(fds.data(), fds.size(), -1);
    if (ready < 0 && errno != EINTR) fatal_errno("poll");
    for (pollfd& pfd : fds) {
      if (ready <= 0 ||
          !(pfd.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)))
        continue;
      if (pfd.revents & POLLNVAL) fatal("poll: listener closed under us");
      int fd = accept_blocking(server, pfd.fd);
      if (fd >= 0) serve_connection(server, fd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraNone);
  open_listeners(server);
  write_pidfile(server);
  run_poll_loop(server);
}
