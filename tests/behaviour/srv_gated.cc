// A server whose start-up the test controls: it binds and listens only
// once a "listen gate" file exists, then creates its "listening" file, and
// accepts only once an "accept gate" file exists. Each connection gets
// "ok\n" after its first read. Used to hold connections in the listener's
// queue across an exec restart (backlog_test.cc).
//
// srv_gated PORT BACKLOG LISTEN_GATE ACCEPT_GATE LISTENING_FILE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

namespace {

// Bounded: a test that never opens the gate gets an exit, not a hang.
bool wait_for_file(const char* path) {
  for (int i = 0; i < 20'000; ++i) {
    if (access(path, F_OK) == 0) return true;
    timespec ms{0, 1'000'000};
    nanosleep(&ms, nullptr);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr,
            "usage: srv_gated PORT BACKLOG LISTEN_GATE ACCEPT_GATE "
            "LISTENING_FILE\n");
    return 2;
  }
  if (!wait_for_file(argv[3])) return 3;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, atoi(argv[2])) != 0) {
    perror("srv_gated: bind/listen");
    return 1;
  }
  std::ofstream(argv[5]) << getpid() << "\n";
  if (!wait_for_file(argv[4])) return 3;
  while (true) {
    int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    char buf[512];
    if (read(conn, buf, sizeof buf) > 0) {
      static const char kAnswer[] = "ok\n";
      if (write(conn, kAnswer, sizeof kAnswer - 1) < 0) perror("srv_gated");
    }
    close(conn);
  }
}
