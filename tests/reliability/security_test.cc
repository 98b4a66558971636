// Security of a service under huptime (issue 6), on real processes: no
// file with a predictable name in a shared directory, control commands and
// hand-off state out of other users' reach, and a service that drops root
// after binding port 80 keeps port 80 across restarts. The cases that need
// another user run as root only (CI runs as root) and are skipped
// otherwise, saying so.
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
#include <vector>

#include "child_process.h"
#include "deadline.h"
#include "service_fixture.h"
#include "test_env.h"

using namespace huptime::test;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct RunResult {
  int status = -1;  // exit status, or -1
  std::string output;
};

// Runs argv (PATH lookup) with stdout and stderr to a file, waits at most
// 60 s (then kills its process group).
RunResult run(const std::vector<std::string>& argv, const std::string& dir) {
  std::string out_path = dir + "/run.out";
  int out =
      open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out, 1);
    dup2(out, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out);
  RunResult r;
  // Not wait_pid_exit: it reaps, and the exit status is wanted here.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  pollfd pfd{pidfd, POLLIN, 0};
  if (pidfd < 0 || poll(&pfd, 1, 60'000) != 1) kill(-pid, SIGKILL);
  if (pidfd >= 0) close(pidfd);
  int status = 0;
  if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    r.status = WEXITSTATUS(status);
  r.output = read_file(out_path);
  return r;
}

// As nobody, through setpriv (util-linux).
std::vector<std::string> as_nobody(std::vector<std::string> argv) {
  std::vector<std::string> out = {"setpriv", "--reuid=65534", "--regid=65534",
                                  "--clear-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool is_root() { return geteuid() == 0; }

ServiceSpec threaded_service(const std::string& dir, int port) {
  ServiceSpec spec;
  spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
  spec.command = {env_or_fail("SRV_THREADED"), "--listen",
                  "tcp:127.0.0.1:" + std::to_string(port)};
  spec.cwd = dir;
  spec.stdout_path = dir + "/stdout";
  return spec;
}

}  // namespace

TEST_CASE("control commands from another user are refused",
          "[security][control]") {
  if (!is_root()) {
    WARN("not root: cannot act as another user; skipped");
    return;
  }
  become_subreaper();
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec |
                                  fs::perms::group_exec);
  int port = free_port();
  Service service(threaded_service(dir.path(), port));
  REQUIRE(service.wait_ready());
  std::string pid = std::to_string(service.leader());
  const std::string huptime = env_or_fail("HUPTIME_LAUNCHER");
  for (const char* command : {"--restart", "--stop", "--status"}) {
    INFO(command);
    RunResult r = run(as_nobody({huptime, command, "--pid", pid}), dir.path());
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.status != 127);  // setpriv and the launcher did run
    CHECK(r.output.find("permission denied") != std::string::npos);
  }
  // Nothing happened: still generation 1, same leader, serving.
  RunResult status = run({huptime, "--status", "--pid", pid}, dir.path());
  INFO(status.output);
  CHECK(status.status == 0);
  CHECK(status.output.find("restarts: 0 begun") != std::string::npos);
  CHECK(
      std::regex_search(status.output, std::regex("\n1 +" + pid + " +ready ")));
  CHECK(Service::get(port, "/") == "hello\n");
  CHECK(pid_alive(service.leader()));
}

TEST_CASE("the hand-off state is not readable by another user",
          "[security][handoff]") {
  if (!is_root()) {
    WARN("not root: cannot act as another user; skipped");
    return;
  }
  become_subreaper();
  TempDir dir;
  int port = free_port();
  Service service(threaded_service(dir.path(), port));
  REQUIRE(service.wait_ready());
  REQUIRE(service.reload());  // now it holds what a restart hands over
  std::string fd_dir = "/proc/" + std::to_string(service.leader()) + "/fd";
  int memfds = 0;
  for (const auto& entry : fs::directory_iterator(fd_dir)) {
    std::error_code ec;
    std::string target = fs::read_symlink(entry.path(), ec).string();
    if (target.find("memfd:huptime") == std::string::npos) continue;
    ++memfds;
    INFO(entry.path().string() << " -> " << target);
    // Through /proc (the only way to reach a memfd by name) as nobody.
    RunResult r = run(as_nobody({"cat", entry.path().string()}), dir.path());
    CHECK(r.status != 0);
    CHECK(r.output.find("Permission denied") != std::string::npos);
  }
  CHECK(memfds >= 2);  // the service page and the generation page
  // And nothing under /dev/shm either.
  for (const auto& entry : fs::directory_iterator("/dev/shm"))
    CHECK(entry.path().filename().string().find("huptime") ==
          std::string::npos);
}

TEST_CASE("nothing is created in a shared directory", "[security][files]") {
  TempDir dir;
  std::string trace = dir.path() + "/trace";
  RunResult probe = run({"strace", "-o", trace, "true"}, dir.path());
  if (probe.status != 0) {
    WARN("strace cannot trace here (" << probe.output << "); skipped");
    return;
  }
  become_subreaper();
  // The launcher and everything it becomes and starts, traced by strace -f
  // (appending to one file), over a service's whole life: start, two
  // restarts by --restart, --status, --stop, the control commands traced
  // too. The service's pid comes from its pidfile.
  const std::vector<std::string> strace = {
      "strace", "-f",  "-qq", "-A",
      "-o",     trace, "-e",  "trace=%file,bind,mknodat,memfd_create",
      "--"};
  std::string wrapper = dir.path() + "/traced-huptime";
  {
    std::ofstream out(wrapper);
    out << "#!/bin/sh\nexec";
    for (const std::string& arg : strace) out << " '" << arg << "'";
    out << " '" << env_or_fail("HUPTIME_LAUNCHER") << "' \"$@\"\n";
  }
  fs::permissions(wrapper, fs::perms::owner_all);
  int port = free_port();
  std::string pidfile = dir.path() + "/srv.pid";
  ServiceSpec spec = threaded_service(dir.path(), port);
  spec.huptime = wrapper;
  spec.command.insert(spec.command.end(), {"--pidfile", pidfile});
  Service service(spec);
  REQUIRE(service.wait_ready());
  auto control = [&](const char* command) {
    std::vector<std::string> argv = strace;
    argv.insert(argv.end(), {env_or_fail("HUPTIME_LAUNCHER"), command,
                             "--pidfile", pidfile});
    RunResult r = run(argv, dir.path());
    INFO(command << ": " << r.output);
    CHECK(r.status == 0);
  };
  control("--restart");
  control("--restart");
  control("--status");
  CHECK(Service::get(port, "/") == "hello\n");
  control("--stop");
  std::string text = read_file(trace);
  REQUIRE(text.find("bind(") != std::string::npos);  // the trace is real
  std::regex shared(R"re("(/tmp|/var/tmp|/dev/shm|/run)(/[^"]*)?")re");
  // Calls that create a name (unlink and friends do not).
  std::regex creates(
      R"(O_CREAT|mkdir|mknod|symlink|\blinkat?\(|rename|bind\()");
  int lines = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lines;
    if (!std::regex_search(line, creates) || !std::regex_search(line, shared))
      continue;
    if (line.find(dir.path()) != std::string::npos) continue;  // the test's
    FAIL_CHECK("created in a shared directory: " << line);
  }
  INFO(lines << " lines traced");
  CHECK(lines > 100);
}

namespace {

// A network namespace of this process's own, with its loopback up: port
// 80 is then ours whatever the host runs.
bool private_loopback() {
  if (unshare(CLONE_NEWNET) != 0) return false;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  close(fd);
  return ok;
}

}  // namespace

TEST_CASE("a service that drops root after binding port 80 keeps it",
          "[security][privileges]") {
  if (!is_root()) {
    WARN("not root: cannot bind port 80; skipped");
    return;
  }
  // Runs last in this process: the namespace stays for the process.
  if (!private_loopback()) {
    WARN("no network namespace of our own (needs CAP_SYS_ADMIN); skipped");
    return;
  }
  become_subreaper();
  for (const char* mode : {"fork", "exec"}) {
    DYNAMIC_SECTION(mode) {
      TempDir dir;
      fs::permissions(dir.path(), fs::perms::owner_all |
                                      fs::perms::others_exec |
                                      fs::perms::group_exec);
      ServiceSpec spec;
      spec.huptime = env_or_fail("HUPTIME_LAUNCHER");
      spec.mode = mode;
      spec.command = {env_or_fail("PYTHON3"), env_or_fail("DROP_PRIVILEGES"),
                      "80"};
      spec.cwd = dir.path();
      spec.stdout_path = dir.path() + "/stdout";
      Service service(spec);
      REQUIRE(service.wait_ready());
      CHECK(Service::get(80, "/") == "uid=65534\n");
      for (int i = 0; i < 3; ++i) {
        INFO("restart " << i + 1);
        REQUIRE(service.reload());
        CHECK(Service::get(80, "/") == "uid=65534\n");
      }
    }
  }
}
