// srv_epoll: a single-threaded non-blocking epoll loop (listeners added with
// epoll_ctl, connections handled in the loop).
#include "epoll_loop.h"
#include "server.h"

using namespace huptime::test;

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraNone);
  server.options.nonblock = true;  // an event loop needs them non-blocking
  open_listeners(server);
  write_pidfile(server);
  run_epoll_loop(server, libc_socket_ops());
}
