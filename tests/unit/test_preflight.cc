// lib/preflight: --check=CMD, run in a child the program can never reap.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <fstream>
#include <string>
#include <thread>

#include "preflight.h"

using namespace huptime;

extern char** environ;

namespace {

CheckResult check(const std::string& command, int64_t timeout_ms = 10'000) {
  return run_check(command, nullptr, environ, timeout_ms);
}

int count_fds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n - 1;  // the directory's own fd
}

// True once pid has exited: gone, or a zombie its new parent (init, or a
// container's pid 1 that never reaps) still holds.
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || line.size() < paren + 3 ||
         line[paren + 2] == 'Z' || line[paren + 2] == 'X';
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string temp_dir() {
  char path[] = "/tmp/huptime-preflight-XXXXXX";
  REQUIRE(mkdtemp(path) != nullptr);
  char real[PATH_MAX];
  REQUIRE(realpath(path, real) != nullptr);
  return real;
}

// The program's side: a SIGCHLD handler and a thread that reap any child
// with waitpid(-1), as servers with worker processes do.
std::atomic<int> g_sigchld{0};
std::atomic<int> g_reaped{0};
std::atomic<pid_t> g_last_reaped{0};

void on_sigchld(int) {
  int saved = errno;
  g_sigchld.fetch_add(1);
  pid_t pid;
  int status;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    g_reaped.fetch_add(1);
    g_last_reaped.store(pid);
  }
  errno = saved;
}

class GreedyReaper {
 public:
  GreedyReaper() {
    struct sigaction act = {};
    act.sa_handler = on_sigchld;
    act.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &act, &old_);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid > 0) {
          g_reaped.fetch_add(1);
          g_last_reaped.store(pid);
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    });
  }
  ~GreedyReaper() {
    stop_.store(true);
    thread_.join();
    sigaction(SIGCHLD, &old_, nullptr);
  }

 private:
  struct sigaction old_ = {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("preflight: success and exit status", "[preflight]") {
  CheckResult ok = check("true");
  CHECK(ok.ok);
  CHECK(ok.reason.empty());
  CheckResult failed = check("exit 3");
  CHECK_FALSE(failed.ok);
  CHECK(failed.reason == "exit status 3");
  CHECK(check("no-such-command-huptime 2>/dev/null").reason ==
        "exit status 127");
}

TEST_CASE("preflight: killed by a signal", "[preflight]") {
  CheckResult r = check("kill -SEGV $$");
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "killed by signal SEGV");
}

TEST_CASE("preflight: timeout kills the whole process group", "[preflight]") {
  std::string dir = temp_dir();
  std::string pid_file = dir + "/pids";
  auto start = std::chrono::steady_clock::now();
  CheckResult r = check("sleep 30 & echo $! > " + pid_file + "; echo $$ >> " +
                            pid_file + "; sleep 30",
                        300);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "timed out after 300 ms");
  CHECK(took < std::chrono::seconds(3));
  std::ifstream pids(pid_file);
  pid_t grandchild = 0, shell = 0;
  pids >> grandchild >> shell;
  REQUIRE(grandchild > 0);
  REQUIRE(shell > 0);
  CHECK(process_gone(shell));
  CHECK(gone_within(grandchild, std::chrono::seconds(2)));
  unlink(pid_file.c_str());
  rmdir(dir.c_str());
  CHECK(check("sleep 30", 2000).reason == "timed out after 2 s");
}

TEST_CASE("preflight: working directory and environment", "[preflight]") {
  std::string dir = temp_dir();
  char var[] = "HUPTIME_CHECK_TEST=hello world";
  char path[] = "PATH=/usr/bin:/bin";
  char* envp[] = {var, path, nullptr};
  CheckResult r = run_check("[ \"$(pwd -P)\" = '" + dir +
                                "' ] && [ \"$HUPTIME_CHECK_TEST\" = "
                                "'hello world' ] && [ -z \"$HOME\" ]",
                            dir.c_str(), envp, 10'000);
  CHECK(r.ok);
  CHECK(r.reason.empty());
  // No environment at all: nothing of ours leaks in.
  setenv("HUPTIME_CHECK_OURS", "1", 1);
  CHECK(
      run_check("[ -z \"$HUPTIME_CHECK_OURS\" ]", dir.c_str(), nullptr, 10'000)
          .ok);
  unsetenv("HUPTIME_CHECK_OURS");
  rmdir(dir.c_str());
  CheckResult missing =
      run_check("true", "/nonexistent/huptime", environ, 10'000);
  CHECK_FALSE(missing.ok);
  CHECK(missing.reason ==
        "cannot enter directory /nonexistent/huptime: No such file or "
        "directory");
}

TEST_CASE("preflight: stdin /dev/null, only stdio inherited", "[preflight]") {
  int p[2];
  REQUIRE(pipe(p) == 0);  // not close-on-exec, as a program's fd may be
  std::string leaked = std::to_string(p[0]);
  CHECK(check("[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ] && "
              "! [ -e /proc/$$/fd/" +
              leaked + " ] && [ -e /proc/$$/fd/1 ] && [ -e /proc/$$/fd/2 ]")
            .ok);
  close(p[0]);
  close(p[1]);
  int before = count_fds();
  check("true");
  check("sleep 5", 50);
  CHECK(count_fds() == before);
}

TEST_CASE("preflight: default signals in the check, caller unchanged",
          "[preflight]") {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ignore, &old);
  CheckResult r;
  // As on the restart thread: every signal blocked.
  std::thread([&r] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    // Read by the shell itself: dash blocks signals while it waits for a
    // child, so a child (grep) would race with that.
    r = check(
        "while read key value; do case $key in SigBlk:|SigIgn:) "
        "[ \"$value\" = 0000000000000000 ] || exit 1;; esac; "
        "done < /proc/$$/status");
  }).join();
  INFO(r.reason);
  CHECK(r.ok);
  struct sigaction now = {};
  sigaction(SIGUSR1, &old, &now);
  CHECK(now.sa_handler == SIG_IGN);
}

TEST_CASE("preflight: a program reaping with waitpid(-1) never sees the check",
          "[preflight]") {
  g_sigchld = 0;
  g_reaped = 0;
  {
    GreedyReaper reaper;
    for (int i = 0; i < 5; ++i) {
      CHECK(check("exit 7").reason == "exit status 7");
      CHECK(check("kill -TERM $$").reason == "killed by signal TERM");
    }
    CHECK(check("sleep 30", 200).reason == "timed out after 200 ms");
    CHECK(g_sigchld.load() == 0);
    CHECK(g_reaped.load() == 0);
    // The reaper works: an ordinary child is taken by it.
    pid_t child = fork();
    if (child == 0) _exit(0);
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (g_last_reaped.load() != child &&
           std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(g_last_reaped.load() == child);
  }
}
