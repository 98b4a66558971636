// Unit tests for the options of `huptime --master` (--master, --revive,
// --revive-limit, --multi: launcher/options.h) and the pure parts of socket
// activation (launcher/socket_activation.h).
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cstring>

#include "launcher_test_support.h"
#include "master_listeners.h"
#include "master_protocol.h"
#include "socket_activation.h"

using namespace huptime;
using namespace huptime::launcher_test;

namespace {

// A listening TCP socket on 127.0.0.1 and its inode.
FdInode listening_socket() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 8) == 0);
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0);
  return {fd, static_cast<uint64_t>(st.st_ino)};
}

}  // namespace

TEST_CASE("options: --master and what implies it", "[options][master]") {
  ParseResult plain = parse({"app"});
  REQUIRE(plain.error.empty());
  CHECK_FALSE(plain.options.run.master);
  CHECK_FALSE(plain.options.run.revive);
  CHECK(plain.options.run.copies == 1);
  CHECK(plain.options.run.revive_limit == 10);

  ParseResult master = parse({"--master", "app"});
  REQUIRE(master.error.empty());
  CHECK(master.options.run.master);
  CHECK_FALSE(master.options.run.revive);
  CHECK(master.options.mode == Mode::kFork);

  ParseResult revive = parse({"--revive", "app"});
  REQUIRE(revive.error.empty());
  CHECK(revive.options.run.master);
  CHECK(revive.options.run.revive);

  ParseResult limit = parse({"--revive-limit=0", "app"});
  REQUIRE(limit.error.empty());
  CHECK(limit.options.run.revive);
  CHECK(limit.options.run.revive_limit == 0);

  ParseResult multi = parse({"--multi", "4", "--fork", "app"});
  REQUIRE(multi.error.empty());
  CHECK(multi.options.run.master);
  CHECK(multi.options.run.copies == 4);
}

TEST_CASE("options: --intercept", "[options][master]") {
  ParseResult seccomp = parse({"--intercept=seccomp", "app"});
  REQUIRE(seccomp.error.empty());
  CHECK(seccomp.options.run.intercept == Intercept::kSeccomp);
  CHECK(seccomp.options.run.master);  // implied
  ParseResult preload = parse({"--intercept", "preload", "app"});
  REQUIRE(preload.error.empty());
  CHECK(preload.options.run.intercept == Intercept::kPreload);
  CHECK_FALSE(preload.options.run.master);
  CHECK(parse({"app"}).options.run.intercept == Intercept::kAuto);
  CHECK(parse({"--intercept=ptrace", "app"}).error ==
        "invalid value 'ptrace' for --intercept (expected auto, preload or "
        "seccomp)");
  CHECK(parse({"--intercept=seccomp", "--exec", "app"})
            .error.starts_with("--master (and --revive, --multi, "
                               "--intercept=seccomp) cannot be "));
}

TEST_CASE("options: --master usage errors", "[options][master]") {
  CHECK(parse({"--master", "--exec", "app"})
            .error.starts_with("--master (and --revive, --multi, "
                               "--intercept=seccomp) cannot be "));
  CHECK(parse({"--exec", "--multi=2", "app"})
            .error.starts_with("--master (and --revive, --multi, "
                               "--intercept=seccomp) cannot be "));
  CHECK(parse({"--multi=0", "app"}).error ==
        "invalid value '0' for --multi (expected 1 to 64)");
  CHECK(parse({"--multi=65", "app"}).error ==
        "invalid value '65' for --multi (expected 1 to 64)");
  CHECK(parse({"--multi=+2", "app"}).error ==
        "invalid value '+2' for --multi (expected 1 to 64)");
  CHECK(parse({"--revive-limit=-1", "app"}).error ==
        "invalid value '-1' for --revive-limit (expected 0 to 1000000)");
  CHECK(parse({"--revive-limit"}).error ==
        "option '--revive-limit' requires an argument");
  CHECK(parse({"--master=yes", "app"}).error ==
        "option '--master' doesn't allow an argument");
  CHECK(parse({"--restart", "--master", "--pid=1"}).error.find("--master") !=
        std::string::npos);
}

TEST_CASE("socket activation: only for this pid, with a sane count",
          "[activation]") {
  pid_t self = getpid();
  CHECK(take_activation(nullptr, "1", self).sockets.empty());
  CHECK(take_activation("1", nullptr, self).sockets.empty());
  Activation other = take_activation("1", "1", self == 1 ? 2 : self);
  CHECK(other.sockets.empty());
  CHECK(other.warning.empty());  // meant for another process: silent
  std::string pid = std::to_string(self);
  for (const char* count : {"0", "-1", "x", "129"}) {
    Activation bad = take_activation(pid.c_str(), count, self);
    CHECK(bad.sockets.empty());
    CHECK(bad.warning.starts_with("ignoring LISTEN_FDS="));
  }
}

TEST_CASE("socket activation: every fd must be a listening stream socket",
          "[activation]") {
  // Put a listening socket at fd 3 and something else at fd 4.
  int listener = listening_socket().fd;
  int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 100);
  int saved4 = fcntl(4, F_DUPFD_CLOEXEC, 100);
  REQUIRE(dup2(listener, 3) == 3);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  REQUIRE(dup2(pipe_fds[0], 4) == 4);
  std::string pid = std::to_string(getpid());

  Activation one = take_activation(pid.c_str(), "1", getpid());
  REQUIRE(one.sockets.size() == 1);
  CHECK(one.sockets[0].fd == 3);
  CHECK(one.sockets[0].inode > 0);
  CHECK(one.warning.empty());

  Activation two = take_activation(pid.c_str(), "2", getpid());
  CHECK(two.sockets.empty());
  CHECK(two.warning ==
        "socket activation: fd 4 is not a listening stream socket; leaving "
        "LISTEN_FDS to the program");

  for (int fd : {3, 4, listener, pipe_fds[0], pipe_fds[1]}) close(fd);
  if (saved3 >= 0) dup2(saved3, 3), close(saved3);
  if (saved4 >= 0) dup2(saved4, 4), close(saved4);
}

TEST_CASE("socket activation: the hand-off and the environment",
          "[activation]") {
  CHECK(activation_handoff_var({{3, 1001}, {4, 1002}}, 42) ==
        "HUPTIME_FDS=v1;pid=0000000042;gen=1;listen=3:1001,4:1002");
  std::vector<std::string> env{"A=1",           "LISTEN_PID=7",
                               "LISTEN_FDS=1",  "LISTEN_FDNAMES=web",
                               "LISTEN_PIDX=1", "B=2"};
  CHECK(without_activation_vars(env) ==
        std::vector<std::string>{"A=1", "LISTEN_PIDX=1", "B=2"});
}

// ------------------------------------------------------- held listeners

namespace {

// What lib/master_link.cc sends.
void send_report(int channel, uint32_t generation,
                 const std::vector<FdInode>& sockets) {
  MasterReport report{};
  report.magic = MasterReport::kMagic;
  report.generation = generation;
  report.pid = getpid();
  report.n_fds = static_cast<uint32_t>(sockets.size());
  std::vector<int> fds;
  for (size_t i = 0; i < sockets.size(); ++i) {
    fds.push_back(sockets[i].fd);
    report.inodes[i] = sockets[i].inode;
  }
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  iovec iov{&report, sizeof report};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  REQUIRE(sendmsg(channel, &msg, 0) == static_cast<ssize_t>(sizeof report));
}

bool open_socket_with_inode(uint64_t inode) {
  for (int fd = 3; fd < 1024; ++fd) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
        static_cast<uint64_t>(st.st_ino) == inode)
      return true;
  }
  return false;
}

}  // namespace

TEST_CASE("held listeners: only the serving generation's set is held",
          "[master]") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  FdInode a = listening_socket();
  FdInode b = listening_socket();
  HeldListeners held;
  send_report(pair[1], 1, {a});
  send_report(pair[1], 1, {a});  // a second process of generation 1
  held.read_reports(pair[0]);
  CHECK(held.held().empty());  // not serving yet
  held.commit(1);
  REQUIRE(held.held().size() == 1);
  CHECK(held.held()[0].inode == a.inode);
  CHECK(held.held()[0].fd != a.fd);  // our own copy

  // Generation 2 reports a and b but never serves (it failed): nothing
  // changes. Generation 3 drops a: it is closed once 3 serves.
  send_report(pair[1], 2, {a, b});
  send_report(pair[1], 3, {b});
  held.read_reports(pair[0]);
  held.commit(1);
  CHECK(held.held().size() == 1);
  held.commit(3);
  REQUIRE(held.held().size() == 1);
  CHECK(held.held()[0].inode == b.inode);

  // Nothing of a is left but the test's own fd; nothing of 2 is kept.
  close(a.fd);
  CHECK_FALSE(open_socket_with_inode(a.inode));
  CHECK(open_socket_with_inode(b.inode));

  // A garbled message is ignored, and its fds are closed.
  char junk[8] = "garbage";
  REQUIRE(send(pair[1], junk, sizeof junk, 0) == sizeof junk);
  held.read_reports(pair[0]);
  held.close_all();
  close(b.fd);
  CHECK_FALSE(open_socket_with_inode(b.inode));
  close(pair[0]);
  close(pair[1]);
}
