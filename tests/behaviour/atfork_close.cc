// A program whose pthread_atfork handler closes a listener (a duplicate of
// it): fork() must still work under huptime. Dies by SIGALRM after 10 s
// if it deadlocks, so a test sees a failure rather than a hang.
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace {
int g_listener = -1;
void close_a_listener() { close(dup(g_listener)); }
}  // namespace

int main() {
  alarm(10);
  g_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(g_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(g_listener, 8) != 0)
    return 1;
  pthread_atfork(close_a_listener, close_a_listener, close_a_listener);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) return 1;
  puts("forked");
  return 0;
}
