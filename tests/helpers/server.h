// What every helper server does before serving: parse the command line,
// read the body once, build the one response, bind and listen on every
// --listen address, write the pid file.
//
// Start-up errors end the program with status 1 and a message on stderr: a
// helper server that cannot do what the test asked must not limp on.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server_options.h"
#include "startup.h"

namespace huptime::test {

struct Server {
  ServerOptions options;
  std::string response;        // the whole HTTP response, built once
  std::vector<int> listeners;  // in --listen order
  Startup startup;             // --startup-file
};

// Parses argv, reads the body file and the start-up file (which may say
// exit now), installs the --usr1-file recorder. Opens no socket: srv_daemon
// binds only after detaching.
Server prepare_server(int argc, char** argv, unsigned extras);

// Binds and listens on every --listen spec (SO_REUSEADDR on TCP, IPV6_V6ONLY
// on tcp6 so that tcp:0.0.0.0:P and tcp6:[::]:P can coexist). Binds all of
// them first, then applies the start-up behaviour (crash, hang, warm-up),
// then listens on all: a new version that fails does so between bind() and
// listen(), where huptime has handed it the inherited sockets.
void open_listeners(Server& server);

// Writes our pid to --pidfile, if given, through a temporary file and
// rename(2) so that a reader never sees a partial pid.
void write_pidfile(const Server& server);

// Sleeps --delay-ms, if set. Only ever used to keep a request in flight.
void reply_delay(const Server& server);

// Prints "PROGRAM: WHAT: strerror(errno)" and exits 1.
[[noreturn]] void fatal_errno(std::string_view what);

// Prints "PROGRAM: MESSAGE" and exits 1.
[[noreturn]] void fatal(std::string_view message);

}  // namespace huptime::test
