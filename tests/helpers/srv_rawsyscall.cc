// srv_rawsyscall: srv_epoll, except that accept4 and close are raw
// syscall(SYS_accept4, ...) and syscall(SYS_close, ...), as libuv (node)
// does: symbol interposition never sees those two calls.
#include "epoll_loop.h"
#include "server.h"

using namespace huptime::test;

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraNone);
  server.options.nonblock = true;
  open_listeners(server);
  write_pidfile(server);
  run_epoll_loop(server, raw_syscall_socket_ops());
}
