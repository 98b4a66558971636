// Hostile and broken input (issue 6), on real processes: huptime's own
// environment tampered with before a program starts under the preload,
// and a service whose working directory or binary disappears between
// restarts, or that runs with RLIMIT_NOFILE at its minimum. Each case ends
// with the service answering and nothing adopted that was not ours.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "deadline.h"
#include "load.h"
#include "service_fixture.h"
#include "sockspec.h"
#include "test_env.h"

using namespace huptime::test;
namespace fs = std::filesystem;

namespace {

// The fd number the decoy gets in the program: high, so that nothing the
// program opens takes it by chance.
constexpr int kDecoyFd = 50;

// A listening TCP socket on 127.0.0.1, kernel-chosen port.
int listen_loopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

uint64_t inode_of(int fd) {
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  return st.st_ino;
}

std::string fd_link(pid_t pid, int fd) {
  std::error_code ec;
  auto target = fs::read_symlink(
      "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec);
  return ec ? "" : target.string();
}

// Netstring list, as lib/env_codec.h writes HUPTIME_ARGV.
std::string encode_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += std::to_string(item.size()) + ":" + item + ",";
  return out;
}

// Starts argv directly under the preload with the launcher's variables and
// HUPTIME_FDS=`fds`, in which "PPPPPPPPPP" is replaced by the program's
// own pid (ten digits, as lib/handoff.h writes it). `decoy` (may be -1) is
// the program's fd kDecoyFd; stdout and stderr go to `log_fd`.
pid_t start_preloaded(const std::vector<std::string>& argv,
                      const std::string& fds, int decoy, int log_fd) {
  std::vector<std::string> env = {
      "PATH=/usr/bin:/bin", "LD_PRELOAD=" + env_or_fail("HUPTIME_LIB"),
      "HUPTIME_MODE=fork",  "HUPTIME_ARGV=" + encode_list(argv),
      "HUPTIME_LOG=debug",  "HUPTIME_FDS=" + fds};
  std::vector<char*> envp, args;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  char* fds_var = envp[5];
  char* pid_field = strstr(fds_var, "PPPPPPPPPP");
  pid_t pid = fork();
  if (pid == 0) {  // async-signal-safe calls only: the test has threads
    setpgid(0, 0);
    if (pid_field) {
      unsigned v = static_cast<unsigned>(getpid());
      for (int i = 9; i >= 0; --i, v /= 10) pid_field[i] = char('0' + v % 10);
    }
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (decoy >= 0) dup2(decoy, kDecoyFd);  // without CLOEXEC
    close_range(3, kDecoyFd - 1, 0);
    close_range(kDecoyFd + 1, ~0U, 0);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// GET / until it answers or 20 s pass.
bool answers(int port) {
  Deadline deadline(std::chrono::seconds(20));
  while (!deadline.expired()) {
    if (Service::get(port, "/") == "hello\n") return true;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(20));  // the server is still starting
  }
  return false;
}

struct Tamper {
  const char* name;
  const char* decoy;  // "listener", "pipe" or "none"
  std::string fds;    // "{inode}" is the decoy's inode
};

}  // namespace

TEST_CASE("a tampered HUPTIME_FDS never adopts a descriptor",
          "[hostile][handoff]") {
  const std::vector<Tamper> cases = {
      {"garbage", "listener", "%%garbage\x01;;=="},
      {"truncated", "listener", "v1;pid=PPPPPPPPPP;gen=2;listen=50:"},
      {"another pid", "listener", "v1;pid=0000000001;gen=2;listen=50:{inode}"},
      {"wrong inode", "listener",
       "v1;pid=PPPPPPPPPP;gen=2;listen=50:{inode+1}"},
      {"not a socket", "pipe", "v1;pid=PPPPPPPPPP;gen=2;listen=50:{inode}"},
      // fd 3 is closed at exec: the server's own socket() gets it later.
      {"closed fd", "listener", "v1;pid=PPPPPPPPPP;gen=2;listen=3:{inode}"},
      {"ready fd a pipe", "pipe", "v1;pid=PPPPPPPPPP;gen=2;ready=50"},
      {"state fds pipes", "pipe", "v1;pid=PPPPPPPPPP;gen=2;state=50,0"},
      {"service fd a pipe", "pipe", "v1;pid=PPPPPPPPPP;gen=2;svc=50"},
      {"duplicate fds", "listener",
       "v1;pid=PPPPPPPPPP;gen=2;listen=50:{inode},50:{inode}"},
  };
  become_subreaper();
  for (const Tamper& t : cases) {
    DYNAMIC_SECTION(t.name) {
      int decoy_port = 0;
      int decoy = -1, pipe_write = -1;
      if (std::string(t.decoy) == "listener") {
        decoy = listen_loopback(&decoy_port);
      } else {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        decoy = p[0];
        pipe_write = p[1];
      }
      uint64_t inode = inode_of(decoy);
      std::string fds = t.fds;
      for (auto [key, value] :
           {std::pair{"{inode}", inode}, std::pair{"{inode+1}", inode + 1}}) {
        for (size_t at; (at = fds.find(key)) != std::string::npos;)
          fds.replace(at, strlen(key), std::to_string(value));
      }
      TempDir dir;
      int log_fd = open((dir.path() + "/log").c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      int port = free_port();
      pid_t pid = start_preloaded({env_or_fail("SRV_THREADED"), "--listen",
                                   "tcp:127.0.0.1:" + std::to_string(port)},
                                  fds, decoy, log_fd);
      INFO("HUPTIME_FDS=" << fds << ", pid " << pid);
      bool served = answers(port);
      bool alive = pid_alive(pid);
      std::string link = fd_link(pid, kDecoyFd);
      // A connection to the decoy's port stays in the decoy's queue: the
      // program did not take the decoy as its listener.
      bool decoy_untouched = true;
      if (decoy_port) {
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(decoy_port));
        connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        REQUIRE(Service::get(port, "/") == "hello\n");  // it is serving
        int conn = accept4(decoy, nullptr, nullptr, SOCK_NONBLOCK);
        decoy_untouched = conn >= 0;
        if (conn >= 0) close(conn);
        close(client);
      }
      // Nothing written to a pipe the program was told is the ready fd.
      char byte;
      bool pipe_silent =
          pipe_write < 0 || (read(decoy, &byte, 1) < 0 && errno == EAGAIN);
      kill(-pid, SIGTERM);
      bool exited = wait_pid_exit(pid, Deadline(std::chrono::seconds(10)));
      int status = 0;
      waitpid(pid, &status, WNOHANG);
      std::string log;
      {
        std::ifstream in(dir.path() + "/log");
        log.assign(std::istreambuf_iterator<char>(in), {});
      }
      INFO("log:\n" << log);
      CHECK(served);
      CHECK(alive);
      CHECK(decoy_untouched);
      CHECK(pipe_silent);
      // Still the decoy: not closed, not replaced by something of ours.
      CHECK(link ==
            (decoy_port ? "socket:[" : "pipe:[") + std::to_string(inode) + "]");
      CHECK(exited);
      CHECK(log.find("AddressSanitizer") == std::string::npos);
      close(log_fd);
      close(decoy);
      if (pipe_write >= 0) close(pipe_write);
    }
  }
}

namespace {

// srv_threaded copied into `dir` (so that the test may delete it), under
// the launcher in `mode`, started in `cwd`.
ServiceSpec copied_service(const std::string& dir, const std::string& cwd,
                           const std::string& mode, int port) {
  fs::copy_file(env_or_fail("SRV_THREADED"), dir + "/srv");
  ServiceSpec spec;
  spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
  spec.mode = mode;
  spec.command = {dir + "/srv", "--listen",
                  "tcp:127.0.0.1:" + std::to_string(port)};
  spec.cwd = cwd;
  spec.stdout_path = dir + "/stdout";
  return spec;
}

}  // namespace

TEST_CASE("a deleted working directory or binary fails the restart cleanly",
          "[hostile][restart]") {
  become_subreaper();
  for (const char* mode : {"fork", "exec"}) {
    DYNAMIC_SECTION(mode << ": working directory deleted") {
      TempDir dir;
      std::string cwd = dir.path() + "/wd";
      fs::create_directory(cwd);
      int port = free_port();
      Service service(copied_service(dir.path(), cwd, mode, port));
      REQUIRE(service.wait_ready());
      pid_t leader = service.leader();
      fs::remove(cwd);
      kill(leader, SIGHUP);
      CHECK(
          service.saw_line("error: restart #1 aborted: cannot enter the "
                           "working directory " +
                               cwd +
                               ": No such file or directory; still "
                               "serving",
                           20));
      CHECK(Service::get(port, "/") == "hello\n");
      CHECK(pid_alive(leader));
      // Back in place, the next restart works.
      fs::create_directory(cwd);
      CHECK(service.reload());
      CHECK(Service::get(port, "/") == "hello\n");
    }
    DYNAMIC_SECTION(mode << ": binary removed") {
      TempDir dir;
      int port = free_port();
      Service service(copied_service(dir.path(), dir.path(), mode, port));
      REQUIRE(service.wait_ready());
      pid_t leader = service.leader();
      fs::rename(dir.path() + "/srv", dir.path() + "/srv.away");
      kill(leader, SIGHUP);
      std::string why = "cannot start " + dir.path() +
                        "/srv: No such file or directory; still serving";
      CHECK(service.saw_line(std::string(mode) == "fork"
                                 ? "error: new copy failed: " + why
                                 : "error: restart #1 aborted: " + why,
                             20));
      CHECK(Service::get(port, "/") == "hello\n");
      CHECK(pid_alive(leader));
      fs::rename(dir.path() + "/srv.away", dir.path() + "/srv");
      CHECK(service.reload());
      CHECK(Service::get(port, "/") == "hello\n");
    }
  }
}

TEST_CASE("restarts work with RLIMIT_NOFILE at a minimum",
          "[hostile][rlimit]") {
  // prlimit runs under the launcher and execs the server in place (a
  // wrapper, as in a unit file's ExecStart): the limit holds for every
  // generation. 16 leaves the server its listener, the library its
  // handful of fds and a few connections.
  become_subreaper();
  for (const char* mode : {"fork", "exec"}) {
    DYNAMIC_SECTION(mode) {
      TempDir dir;
      int port = free_port();
      ServiceSpec spec;
      spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
      spec.mode = mode;
      spec.command = {"prlimit",  "--nofile=16:16",
                      "--",       env_or_fail("SRV_THREADED"),
                      "--listen", "tcp:127.0.0.1:" + std::to_string(port)};
      spec.cwd = dir.path();
      spec.stdout_path = dir.path() + "/stdout";
      Service service(spec);
      REQUIRE(service.wait_ready());
      for (int i = 0; i < 5; ++i) {
        INFO("restart " << i + 1);
        REQUIRE(service.reload());
        CHECK(Service::get(port, "/") == "hello\n");
      }
      std::string limits =
          "/proc/" + std::to_string(service.leader()) + "/limits";
      std::ifstream in(limits);
      std::string text{std::istreambuf_iterator<char>(in), {}};
      CHECK(std::regex_search(text, std::regex("Max open files +16 +16 ")));
    }
  }
}

namespace {

// srv_unruly WHAT on 127.0.0.1:port under the launcher in `mode`, in `dir`.
ServiceSpec unruly_service(const char* what, const std::string& mode,
                           const TempDir& dir, int port) {
  ServiceSpec spec;
  spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
  spec.mode = mode;
  spec.command = {env_or_fail("SRV_UNRULY"), what, std::to_string(port)};
  spec.cwd = dir.path();
  spec.stdout_path = dir.path() + "/stdout";
  return spec;
}

// srv_unruly WHAT under the launcher in both modes: three restarts, each
// followed by an answer.
void restarts_despite(const char* what) {
  become_subreaper();
  for (const char* mode : {"fork", "exec"}) {
    DYNAMIC_SECTION(what << "/" << mode) {
      TempDir dir;
      int port = free_port();
      ServiceSpec spec = unruly_service(what, mode, dir, port);
      Service service(spec);
      REQUIRE(service.wait_ready());
      CHECK(Service::get(port, "/") == "hello\n");
      for (int i = 0; i < 3; ++i) {
        INFO("restart " << i + 1);
        REQUIRE(service.reload());
        CHECK(Service::get(port, "/") == "hello\n");
      }
    }
  }
}

}  // namespace

TEST_CASE("a program that ignores SIGHUP still restarts",
          "[hostile][program]") {
  restarts_despite("ignore-hup");
}

TEST_CASE("a program that blocks SIGHUP still restarts", "[hostile][program]") {
  restarts_despite("block-hup");
}

TEST_CASE("a program that closes every fd but its listener still restarts",
          "[hostile][program]") {
  restarts_despite("close-all");
}

// dup2() of /dev/null over every fd from 3 to 255 (ours included): the
// library moves its fds out of the way, and its restart thread, which may
// be polling the old numbers, polls again with the new ones instead of
// reading /dev/null as "drain now" (our_fd_moves). Under two clients: the
// first generation keeps serving, one restart hands over, 0 failed.
TEST_CASE("a program that dup2()s over the library's fds still restarts",
          "[hostile][program]") {
  become_subreaper();
  for (const char* mode : {"fork", "exec"}) {
    DYNAMIC_SECTION("dup2-over/" << mode) {
      TempDir dir;
      int port = free_port();
      ServiceSpec spec = unruly_service("dup2-over", mode, dir, port);
      Service service(spec);
      REQUIRE(service.wait_ready());
      std::string error;
      auto target =
          parse_sockspec("tcp:127.0.0.1:" + std::to_string(port), &error);
      REQUIRE(target);
      LoadConfig config;
      config.targets = {*target};
      config.clients = 2;
      LoadRun load(config);
      load.start();
      // 200 answers from the first generation: it did not drain.
      REQUIRE(load.wait_until([](const LoadStats& s) { return s.ok >= 200; },
                              Deadline(std::chrono::seconds(30))));
      CHECK_FALSE(service.saw_line("drained; exiting", 0));
      REQUIRE(service.reload());
      uint64_t before = load.snapshot().ok;
      REQUIRE(load.wait_until(
          [&](const LoadStats& s) { return s.ok >= before + 200; },
          Deadline(std::chrono::seconds(30))));
      load.stop();
      LoadStats stats = load.snapshot();
      INFO(format_summary(stats));
      CHECK(stats.failed == 0);
      CHECK(Service::get(port, "/") == "hello\n");
      printf("dup2-over/%s: 1 restart, %llu requests, %llu failed\n", mode,
             static_cast<unsigned long long>(stats.requests),
             static_cast<unsigned long long>(stats.failed));
    }
  }
}

// A thread that keeps an fd without close-on-exec for ~50 us at a time,
// in a loop: the exec in place holds it still (lib/park_threads.h) before
// marking every fd close-on-exec, so no copy inherits one. Without that,
// nearly every re-exec leaked one (exec mode; fork mode's child is
// single-threaded from the start, checked too).
TEST_CASE(
    "a thread that opens fds during the re-exec leaks none into the "
    "new image",
    "[hostile][program]") {
  become_subreaper();
  for (const char* mode : {"exec", "fork"}) {
    DYNAMIC_SECTION("fd-churn/" << mode) {
      TempDir dir;
      int port = free_port();
      ServiceSpec spec = unruly_service("fd-churn", mode, dir, port);
      Service service(spec);
      REQUIRE(service.wait_ready());
      constexpr int kRestarts = 10;
      for (int i = 0; i < kRestarts; ++i) {
        INFO("restart " << i + 1);
        REQUIRE(service.reload());
        CHECK(Service::get(port, "/") == "hello\n");
      }
      std::ifstream in(spec.stdout_path);
      std::string text{std::istreambuf_iterator<char>(in), {}};
      INFO(text);
      std::regex line("churn fds at start: ([0-9]+)");
      int copies = 0, leaked = 0;
      for (std::sregex_iterator it(text.begin(), text.end(), line), end;
           it != end; ++it) {
        ++copies;
        leaked += std::stoi((*it)[1]);
      }
      CHECK(copies == kRestarts + 1);
      CHECK(leaked == 0);
      printf("fd-churn/%s: %d restarts, %d fds leaked into %d copies\n", mode,
             kRestarts, leaked, copies);
    }
  }
}

// A child of the old image that keeps an O_ASYNC socket whose owner is the
// service's pid, and makes it readable every 20 ms: after an exec in place
// the new image, which handles no SIGIO, must not be killed by it
// (signals.h: SIGIO stays ignored while the old image's children run).
TEST_CASE("an exec in place survives SIGIO from the old image's children",
          "[hostile][program]") {
  become_subreaper();
  TempDir dir;
  int port = free_port();
  ServiceSpec spec = unruly_service("sigio-child", "exec", dir, port);
  Service service(spec);
  REQUIRE(service.wait_ready());
  pid_t leader = service.leader();
  REQUIRE(service.reload());
  // Only now does the old image's child start its writes (one SIGIO to
  // this pid every 20 ms): the first image handled none either.
  std::ofstream(dir.path() + "/go").put('\n');
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(kill(leader, 0) == 0);
  CHECK(Service::get(port, "/") == "hello\n");
  CHECK(service.leader() == leader);
}
