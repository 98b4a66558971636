// Exec mode: the connections that queue while the service re-executes do
// not count against the backlog the new image's program asks for. The
// listener's queue holds them across the exec (its backlog raised for the
// hand-off); when the program then calls listen() with a smaller backlog,
// new connections must still be queued, not dropped (a dropped SYN costs
// the client a one-second retransmission), until the program has accepted
// the hand-off's connections; then the program's backlog applies.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "deadline.h"
#include "service_fixture.h"
#include "test_env.h"

using namespace huptime::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void touch(const std::string& path) { std::ofstream(path) << ""; }

// A non-blocking connect to 127.0.0.1:port, started.
int start_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  return fd;
}

// Whether the connection is established within `ms`. On loopback that
// takes well under a millisecond unless the listener drops the SYN, which
// the kernel retransmits only after one second.
bool connected_within(int fd, int ms) {
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, ms) != 1) return false;
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
  return error == 0;
}

// Sends a line and reads the answer (bounded).
std::string exchange(int fd) {
  if (write(fd, "hi\n", 3) != 3) return "";
  std::string got;
  Deadline deadline(std::chrono::seconds(10));
  while (got.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, deadline.poll_ms(100ms)) < 0 || deadline.expired()) break;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

bool wait_for_file(const std::string& path) {
  Deadline deadline(std::chrono::seconds(20));
  while (!fs::exists(path)) {
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("connections queued during an exec leave the program's backlog free",
          "[behaviour][exec]") {
  TempDir dir;
  std::string listen_gate = dir.path() + "/listen-gate";
  std::string accept_gate = dir.path() + "/accept-gate";
  std::string listening = dir.path() + "/listening";
  touch(listen_gate);
  touch(accept_gate);
  int port = free_port();
  ServiceSpec spec;
  spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
  spec.mode = "exec";
  spec.cwd = dir.path();
  spec.env = {{"HUPTIME_LOG", "debug"}};
  spec.command = {env_or_fail("SRV_GATED"),
                  std::to_string(port),
                  "1",
                  listen_gate,
                  accept_gate,
                  listening};
  Service service(spec);
  REQUIRE(service.wait_ready());
  int first = start_connect(port);
  REQUIRE(connected_within(first, 5000));
  REQUIRE(exchange(first) == "ok\n");
  close(first);

  // The next image waits before it listens, then before it accepts.
  fs::remove(listen_gate);
  fs::remove(accept_gate);
  fs::remove(listening);
  REQUIRE(kill(service.leader(), SIGHUP) == 0);
  REQUIRE(service.saw_line("re-executing", 20));
  std::vector<int> conns;
  for (int i = 0; i < 4; ++i) {
    conns.push_back(start_connect(port));
    CHECK(connected_within(conns.back(), 5000));  // the hand-off's queue
  }
  touch(listen_gate);
  REQUIRE(wait_for_file(listening));  // listen(fd, 1) has returned
  // Four connections wait, the program asked for one: without the
  // hand-off's allowance these SYNs are dropped.
  for (int i = 0; i < 3; ++i) {
    conns.push_back(start_connect(port));
    CHECK(connected_within(conns.back(), 500));
  }
  touch(accept_gate);
  for (int fd : conns) {
    CHECK(exchange(fd) == "ok\n");
    close(fd);
  }
  // Once the program has accepted them, its own backlog is the kernel's.
  CHECK(service.saw_line("the program's backlog 1 applied", 10));
}
