// srv_threaded: blocking accept, a detached std::thread per connection, so
// that with --delay-ms many requests are in flight when a reload comes.
// Several --listen addresses get one accepting thread each.
#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraNone);
  open_listeners(server);
  write_pidfile(server);
  run_threaded(server);
}
