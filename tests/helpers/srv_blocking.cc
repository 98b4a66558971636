// srv_blocking: one thread, one blocking accept loop, one connection at a
// time. The simplest server there is.
#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraNone);
  open_listeners(server);
  int listener = single_listener(server);
  write_pidfile(server);
  run_accept_loop(server, listener);
}
