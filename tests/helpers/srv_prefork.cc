// srv_prefork: binds, forks --workers N processes that each run a blocking
// accept loop on the shared listener, and stays as a master that reaps
// workers with waitpid(-1) and respawns dead ones (Apache prefork, gunicorn).
// SIGTERM or SIGINT: the master terminates the workers, waits for them and
// exits 0.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

// Without SA_RESTART, so that the master's waitpid returns EINTR.
void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

// Forks a worker with the stop signals blocked across fork(), so that a
// worker never runs the master's handler: it resets them to the default
// before unblocking.
pid_t spawn_worker(const Server& server, int listener) {
  sigset_t stop_set, old_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_set, &old_set);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old_set, nullptr);
    run_accept_loop(server, listener);
  }
  int error = errno;
  sigprocmask(SIG_SETMASK, &old_set, nullptr);
  errno = error;
  if (pid < 0) fatal_errno("fork");
  return pid;
}

void stop_workers(const std::vector<pid_t>& workers) {
  for (pid_t pid : workers) kill(pid, SIGTERM);
  for (pid_t pid : workers)
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

// Reaps with waitpid(-1) and respawns dead workers until asked to stop.
void supervise(const Server& server, int listener,
               std::vector<pid_t>& workers) {
  while (!g_stop) {
    pid_t pid = waitpid(-1, nullptr, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) fatal_errno("waitpid");
    auto it = std::find(workers.begin(), workers.end(), pid);
    if (it == workers.end()) continue;  // not a worker of ours
    if (g_stop) {
      workers.erase(it);
      break;
    }
    *it = spawn_worker(server, listener);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraWorkers);
  open_listeners(server);
  int listener = single_listener(server);
  install_stop_handlers();
  std::vector<pid_t> workers;
  for (int i = 0; i < server.options.workers; ++i)
    workers.push_back(spawn_worker(server, listener));
  write_pidfile(server);
  supervise(server, listener, workers);
  stop_workers(workers);
  return 0;
}
