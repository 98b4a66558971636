// A server that is unkind to whatever shares its process, for the hostile
// tests: once listening, it does one of
//   ignore-hup   signal(SIGHUP, SIG_IGN)
//   block-hup    blocks SIGHUP (sigprocmask; it has one thread)
//   dup2-over    dup2()s /dev/null over every fd from 3 to 255 but its
//                listener (the library's own fds included)
//   close-all    closes every fd from 3 up but its listener (close_range)
//   sigio-child  the first copy (no file sigio-child in the working
//                directory yet) forks a child that keeps a socket whose
//                O_ASYNC owner is this pid (as nginx's workers hold the
//                master's channels); once a file "go" appears there, the
//                child makes the socket readable every 20 ms for 2 s. This
//                process closes its copies and never handles SIGIO
//   fd-churn     runs a thread that keeps opening a file without
//                close-on-exec and sets the flag only ~50 us later (as
//                nginx's master does with a new worker's channel)
// then answers "hello\n" to every HTTP request, one at a time. Every
// copy first prints "churn fds at start: N": how many of those files it
// inherited (an exec in place that let the thread run on leaks them).
//   srv_unruly WHAT PORT
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 128) != 0) {
    perror("srv_unruly: bind/listen");
    exit(1);
  }
  return fd;
}

constexpr char kChurnName[] = "srv-unruly-churn";

int churn_fds() {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().find(kChurnName) != std::string::npos) ++count;
  }
  return count;
}

[[noreturn]] void churn() {
  for (;;) {
    int fd = memfd_create(kChurnName, 0);
    auto until =
        std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (std::chrono::steady_clock::now() < until) {
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    close(fd);
  }
}

// The child of sigio-child: sv[0] has O_ASYNC and our parent as owner;
// writing to sv[1] makes it readable, and the kernel sends SIGIO to the
// owner, whichever image it runs by then.
[[noreturn]] void sigio_child(int sv[2]) {
  for (int i = 0; i < 1000 && access("go", F_OK) != 0; ++i) usleep(10 * 1000);
  for (int i = 0; i < 100; ++i) {
    char byte = 'x';
    (void)!write(sv[1], &byte, 1);
    char buf[16];
    (void)!read(sv[0], buf, sizeof buf);
    usleep(20 * 1000);
  }
  _exit(0);
}

void misbehave(const std::string& what, int listener) {
  if (what == "ignore-hup") {
    signal(SIGHUP, SIG_IGN);
  } else if (what == "block-hup") {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
  } else if (what == "dup2-over") {
    int null = open("/dev/null", O_RDONLY);
    for (int fd = 3; fd < 256; ++fd)
      if (fd != listener && fd != null) dup2(null, fd);
  } else if (what == "close-all") {
    if (listener > 3) close_range(3, listener - 1, 0);
    close_range(listener + 1, ~0U, 0);
  } else if (what == "sigio-child") {
    if (access("sigio-child", F_OK) == 0) return;
    close(open("sigio-child", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC | O_NONBLOCK);
    fcntl(sv[0], F_SETOWN, getpid());
    if (fork() == 0) sigio_child(sv);
    close(sv[0]);
    close(sv[1]);
  } else if (what == "fd-churn") {
    std::thread(churn).detach();
  } else {
    fprintf(stderr, "srv_unruly: unknown '%s'\n", what.c_str());
    exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: srv_unruly WHAT PORT\n");
    return 2;
  }
  printf("churn fds at start: %d\n", churn_fds());
  fflush(stdout);
  int listener = listen_on(atoi(argv[2]));
  misbehave(argv[1], listener);
  static const char kReply[] =
      "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";
  for (;;) {
    int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) continue;
    char buf[4096];
    (void)!read(conn, buf, sizeof buf);
    (void)!write(conn, kReply, sizeof kReply - 1);
    close(conn);
  }
}
