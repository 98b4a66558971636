#include "service_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "child_process.h"
#include "client_request.h"
#include "deadline.h"
#include "sockspec.h"

namespace huptime::test {

namespace {

using namespace std::chrono_literals;

// Only async-signal-safe calls between fork and exec: the test has threads.
pid_t start(const ServiceSpec& spec, int stderr_fd) {
  std::vector<std::string> args = {spec.huptime, "--" + spec.mode, "--"};
  args.insert(args.end(), spec.command.begin(), spec.command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : spec.blocked) sigaddset(&mask, sig);
  int out = open(spec.stdout_path.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    for (int sig : spec.ignored) signal(sig, SIG_IGN);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out, 1);
    dup2(stderr_fd, 2);
    close_range(3, ~0U, 0);
    if (chdir(spec.cwd.c_str()) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  return pid;
}

}  // namespace

Service::Service(const ServiceSpec& spec) : spec_(spec) {
  become_subreaper();
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return;
  log_ = std::make_unique<LogWatcher>(pipe_fds[0]);
  leader_ = group_ = start(spec, pipe_fds[1]);
  close(pipe_fds[1]);
}

Service::~Service() {
  if (group_ > 0) {
    kill(-group_, SIGTERM);
    kill(leader_, SIGTERM);
    if (!wait_pid_exit(leader_, Deadline(5s))) kill(-group_, SIGKILL);
    wait_pid_exit(leader_, Deadline(5s));
    reap_children();
  }
  if (log_) log_->stop();
}

bool Service::wait_ready() {
  std::regex ready(R"(huptime\[(\d+)\]: ready \(generation (\d+))");
  auto m = log_->wait_for({ready}, cursor_, Deadline(20s));
  if (!m) return false;
  cursor_ = m->index + 1;
  generation_ = static_cast<unsigned>(std::stoul(m->groups[2]));
  return true;
}

bool Service::reload() {
  pid_t old = leader_;
  if (kill(old, SIGHUP) != 0) return false;
  unsigned want = generation_ + 1;
  std::regex ready(R"(huptime\[(\d+)\]: ready \(generation (\d+))");
  std::regex started(R"(huptime\[(\d+)\]: new copy started as pid (\d+))");
  Deadline deadline(std::chrono::seconds(30));
  pid_t fresh = old;
  bool is_ready = false;
  // Both lines in fork mode, in either order: the new copy's "ready" and
  // its parent's "new copy started" share one pipe in no causal order (a
  // copy that starts fast says "ready" first: seen in CI, where the
  // leader then stayed the old pid and the next reload failed).
  while (!is_ready || (spec_.mode == "fork" && fresh == old)) {
    auto m = log_->wait_for({ready, started}, cursor_, deadline);
    if (!m) return false;
    cursor_ = m->index + 1;
    if (m->pattern == 1 && std::stoi(m->groups[1]) == old)
      fresh = std::stoi(m->groups[2]);
    if (m->pattern == 0 && std::stoul(m->groups[2]) == want) is_ready = true;
  }
  generation_ = want;
  leader_ = fresh;
  if (spec_.mode == "fork" && !wait_pid_exit(old, deadline)) return false;
  return true;
}

bool Service::saw_line(const std::string& pattern, int timeout_s) {
  return log_ && log_->wait_for({std::regex(pattern)}, 0,
                                Deadline(std::chrono::seconds(timeout_s)))
                     .has_value();
}

std::string Service::get(int port, const std::string& path) {
  std::string error;
  auto spec = parse_sockspec("tcp:127.0.0.1:" + std::to_string(port), &error);
  if (!spec) return "";
  auto result = run_request(*spec, "GET " + path + " HTTP/1.0\r\n\r\n", 10s);
  return result.outcome == Outcome::kOk ? result.body : "";
}

std::map<std::string, std::string> parse_report(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/huptime-behaviour-XXXXXX";
  if (mkdtemp(tmpl)) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace huptime::test
