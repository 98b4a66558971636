// lib/notify_socket: --ready=notify, the sd_notify protocol.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <string>

#include "notify_socket.h"

using namespace huptime;

namespace {

int count_fds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n - 1;  // the directory's own fd
}

sockaddr_un abstract_addr(const std::string& address, socklen_t* len) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(address.size() > 1);
  REQUIRE(address[0] == '@');
  memcpy(addr.sun_path + 1, address.data() + 1, address.size() - 1);
  *len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  return addr;
}

// Sends one datagram the way sd_notify does, optionally with an fd.
bool send_notify(const std::string& address, const std::string& text,
                 int pass_fd = -1) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t len;
  sockaddr_un addr = abstract_addr(address, &len);
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr mh{};
  mh.msg_name = &addr;
  mh.msg_namelen = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t n = sendmsg(fd, &mh, 0);
  close(fd);
  return n == static_cast<ssize_t>(text.size());
}

struct OpenSocket {
  NotifySocket s;
  OpenSocket() {
    auto opened = open_notify_socket();
    REQUIRE(opened);
    s = *opened;
  }
  ~OpenSocket() { close(s.fd); }
};

}  // namespace

TEST_CASE("notify: parse keys", "[notify]") {
  NotifyMessage m = parse_notify_message(
      "READY=1\nSTATUS=Serving 3 clients\nERRNO=17\nMAINPID=4242\n");
  CHECK(m.ready);
  CHECK_FALSE(m.reloading);
  CHECK_FALSE(m.stopping);
  CHECK(m.status == "Serving 3 clients");
  CHECK(m.errno_value == 17);
  CHECK(m.main_pid == 4242);
  CHECK(m.sender_pid == 0);

  NotifyMessage last = parse_notify_message("RELOADING=1\nSTOPPING=1");
  CHECK(last.reloading);
  CHECK(last.stopping);
  CHECK_FALSE(last.ready);

  CHECK(parse_notify_message("STATUS=a=b").status == "a=b");
  CHECK(parse_notify_message("STATUS=one\nSTATUS=two").status == "two");
  CHECK(parse_notify_message("STATUS=").status.empty());
}

TEST_CASE("notify: garbage is ignored", "[notify]") {
  NotifyMessage m = parse_notify_message(
      "\n\ngarbage\n=1\nREADY=0\nREADY=yes\nready=1\nERRNO=x\nERRNO=-2\n"
      "MAINPID=0\nMAINPID=99999999999999999999\nX_UNKNOWN=1\n READY=1\n"
      "FDSTORE=1\nWATCHDOG=1\n");
  CHECK_FALSE(m.ready);
  CHECK(m.errno_value == 0);
  CHECK(m.main_pid == 0);
  CHECK(m.status.empty());
  CHECK(parse_notify_message("").status.empty());
  CHECK(parse_notify_message("READY=1\n").ready);
  CHECK(parse_notify_message("junk\nREADY=1").ready);
}

TEST_CASE("notify: the socket", "[notify]") {
  OpenSocket sock;
  const NotifySocket& s = sock.s;
  CHECK(s.fd >= 3);
  CHECK((fcntl(s.fd, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((fcntl(s.fd, F_GETFL) & O_NONBLOCK) != 0);
  REQUIRE(s.address.size() == 9 + 32);
  CHECK(s.address.substr(0, 9) == "@huptime-");
  CHECK(s.address.find_first_not_of("0123456789abcdef", 9) ==
        std::string::npos);
  int on = 0;
  socklen_t len = sizeof on;
  REQUIRE(getsockopt(s.fd, SOL_SOCKET, SO_PASSCRED, &on, &len) == 0);
  CHECK(on == 1);
  OpenSocket other;
  CHECK(other.s.address != s.address);
}

TEST_CASE("notify: round trip with credentials", "[notify]") {
  OpenSocket sock;
  int dropped = -1;
  CHECK(read_notify_messages(sock.s.fd, getuid(), &dropped).empty());
  CHECK(dropped == 0);
  REQUIRE(send_notify(sock.s.address, "READY=1\nSTATUS=ok"));
  REQUIRE(send_notify(sock.s.address, "STATUS=second"));
  auto messages = read_notify_messages(sock.s.fd, getuid(), &dropped);
  CHECK(dropped == 0);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].ready);
  CHECK(messages[0].status == "ok");
  CHECK(messages[0].sender_pid == getpid());
  CHECK(messages[0].sender_uid == getuid());
  CHECK_FALSE(messages[1].ready);
  CHECK(messages[1].status == "second");
  CHECK(read_notify_messages(sock.s.fd, getuid(), nullptr).empty());
}

TEST_CASE("notify: oversized datagrams are dropped", "[notify]") {
  OpenSocket sock;
  REQUIRE(
      send_notify(sock.s.address, "READY=1\nSTATUS=" + std::string(5000, 'x')));
  REQUIRE(send_notify(sock.s.address, "READY=1"));
  int dropped = 0;
  auto messages = read_notify_messages(sock.s.fd, getuid(), &dropped);
  CHECK(dropped == 1);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].ready);
}

TEST_CASE("notify: fds passed along are closed", "[notify]") {
  OpenSocket sock;
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  int before = count_fds();
  REQUIRE(send_notify(sock.s.address, "FDSTORE=1\nREADY=1", p[1]));
  close(p[1]);
  auto messages = read_notify_messages(sock.s.fd, getuid(), nullptr);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].ready);
  CHECK(count_fds() == before - 1);
  // No write end left anywhere: the received copy was closed.
  pollfd pfd{p[0], POLLIN, 0};
  REQUIRE(poll(&pfd, 1, 0) == 1);
  CHECK((pfd.revents & POLLHUP) != 0);
  close(p[0]);
}

TEST_CASE("notify: other users are dropped", "[notify]") {
  if (geteuid() != 0) {
    WARN("not root: cannot send as another user; skipped");
    return;
  }
  OpenSocket sock;
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    _exit(send_notify(sock.s.address, "READY=1\nSTATUS=nobody") ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(send_notify(sock.s.address, "STATUS=root"));
  int dropped = 0;
  auto messages = read_notify_messages(sock.s.fd, 1000, &dropped);
  CHECK(dropped == 1);
  REQUIRE(messages.size() == 1);  // root is always allowed
  CHECK(messages[0].status == "root");
  CHECK(messages[0].sender_uid == 0);

  child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    _exit(send_notify(sock.s.address, "READY=1") ? 0 : 1);
  }
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WEXITSTATUS(status) == 0);
  messages = read_notify_messages(sock.s.fd, 65534, &dropped);
  CHECK(dropped == 0);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].ready);
  CHECK(messages[0].sender_uid == 65534);
  CHECK(messages[0].sender_pid == child);
}
