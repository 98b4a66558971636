// errno_probe: run under `huptime --master --intercept=seccomp`, checks
// that the calls the master answers behave as the kernel's own: the same
// return values and errno for bad fds, bad addresses, wrong lengths and
// non-sockets, and success where success is due. Prints one line per
// check and exits 1 if any differs (the master then exits 1 too).
//
//   errno_probe DIR    DIR: a scratch directory (for a UNIX socket path)
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int g_failed = 0;

void expect(const char* what, long got, int got_errno, long want_value,
            int want_errno) {
  bool ok = got == want_value && (want_value != -1 || got_errno == want_errno);
  std::printf("%s %s: returned %ld (%s)\n", ok ? "ok  " : "FAIL", what, got,
              got == -1 ? std::strerror(got_errno) : "no error");
  if (!ok) {
    std::printf("     wanted %ld%s%s\n", want_value,
                want_value == -1 ? " " : "",
                want_value == -1 ? std::strerror(want_errno) : "");
    ++g_failed;
  }
}

#define CHECK_CALL(what, call, value, err)    \
  do {                                        \
    errno = 0;                                \
    long result_ = (call);                    \
    expect(what, result_, errno, value, err); \
  } while (0)

sockaddr_in loopback(uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: errno_probe DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  sockaddr_in any = loopback(0);
  auto* addr = reinterpret_cast<sockaddr*>(&any);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return 2;
  int sock = socket(AF_INET, SOCK_STREAM, 0);

  CHECK_CALL("bind(-1)", bind(-1, addr, sizeof any), -1, EBADF);
  CHECK_CALL("bind(pipe)", bind(pipe_fds[0], addr, sizeof any), -1, ENOTSOCK);
  CHECK_CALL("bind(addr NULL)", bind(sock, nullptr, sizeof any), -1, EFAULT);
  CHECK_CALL("bind(bad pointer)",
             bind(sock, reinterpret_cast<sockaddr*>(8), sizeof any), -1,
             EFAULT);
  CHECK_CALL("bind(len 1)", bind(sock, addr, 1), -1, EINVAL);
  CHECK_CALL("bind(port 0)", bind(sock, addr, sizeof any), 0, 0);
  CHECK_CALL("bind again", bind(sock, addr, sizeof any), -1, EINVAL);
  CHECK_CALL("listen(-1)", listen(-1, 5), -1, EBADF);
  CHECK_CALL("listen(pipe)", listen(pipe_fds[0], 5), -1, ENOTSOCK);
  CHECK_CALL("listen", listen(sock, 5), 0, 0);
  int other = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_CALL("shutdown(unconnected)", shutdown(other, SHUT_RDWR), -1, ENOTCONN);
  CHECK_CALL("shutdown(-1)", shutdown(-1, SHUT_RDWR), -1, EBADF);
  CHECK_CALL("unlink(missing)", unlink((dir + "/missing").c_str()), -1, ENOENT);
  CHECK_CALL("unlinkat(bad dirfd)", unlinkat(12345, "x", 0), -1, EBADF);
  std::string file = dir + "/plain";
  close(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  CHECK_CALL("unlink(file)", unlink(file.c_str()), 0, 0);
  CHECK_CALL("unlink(file) again", unlink(file.c_str()), -1, ENOENT);
  CHECK_CALL("io_uring_setup", syscall(SYS_io_uring_setup, 1, nullptr), -1,
             ENOSYS);
  // A UNIX socket path: the master keeps its path once it is listened on.
  int unix_sock = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::string path = dir + "/s.sock";
  std::snprintf(un.sun_path, sizeof un.sun_path, "%s", path.c_str());
  CHECK_CALL("bind(unix)",
             bind(unix_sock, reinterpret_cast<sockaddr*>(&un), sizeof un), 0,
             0);
  CHECK_CALL("listen(unix)", listen(unix_sock, 5), 0, 0);
  CHECK_CALL("unlink(listened path)", unlink(path.c_str()), 0, 0);
  CHECK_CALL("the path is kept", access(path.c_str(), F_OK), 0, 0);
  // (The master removes it when the service ends: the test checks.)
  std::printf("%d failed\n", g_failed);
  return g_failed == 0 ? 0 : 1;
}
