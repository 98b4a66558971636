// Hook cost on the hot paths, measured by running the same loops once
// plainly and once under the preload (the benchmark re-executes itself
// through the launcher), and printing nanoseconds per call and the
// difference. Not a test: it asserts nothing.
//
//   close(untracked)   close() of an fd number that is not open: the
//                      library's fast path, one table lookup.
//   accept+close       a UNIX-socket client connects, the server accepts
//                      (tracked connection) and both close.
//   threads close      the same close loop on 4 threads at once, to show
//                      the path does not serialise on a lock.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ns_per(Clock::duration d, long n) {
  return std::chrono::duration<double, std::nano>(d).count() / n;
}

double bench_close_untracked(long n) {
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) close(900);
  return ns_per(Clock::now() - start, n);
}

double bench_threads_close(long n, int threads) {
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([n, t] {
      for (long i = 0; i < n; ++i) close(901 + t);
    });
  for (auto& th : pool) th.join();
  return ns_per(Clock::now() - start, n);
}

double bench_accept_close(long n) {
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Abstract name unique to this process: nothing touches the file system.
  int len = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1,
                     "huptime-bench-%d", getpid());
  socklen_t alen =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), alen) != 0 ||
      listen(listener, 128) != 0) {
    perror("bench: listen");
    exit(1);
  }
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&addr), alen) != 0) {
      perror("bench: connect");
      exit(1);
    }
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(conn);
    close(client);
  }
  double result = ns_per(Clock::now() - start, n);
  close(listener);
  return result;
}

void run_and_print(const char* label) {
  // (BENCH_PRELOADED: huptime removes every HUPTIME_* variable.)
  // Best of 5 rounds: the minimum is the least disturbed by the machine.
  double c = 1e18, a = 1e18, t = 1e18;
  for (int round = 0; round < 5; ++round) {
    c = std::min(c, bench_close_untracked(2'000'000));
    a = std::min(a, bench_accept_close(50'000));
    t = std::min(t, bench_threads_close(1'000'000, 4));
  }
  printf("%s %.1f %.1f %.1f\n", label, c, a, t);
  fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--child") == 0) {
    // The preloaded run has one more thread (huptime's restart thread),
    // which alone moves glibc onto its multi-threaded paths. With
    // BENCH_IDLE_THREAD=1 the plain run gets an idle thread too, to tell
    // that cost from the hooks'.
    if (getenv("BENCH_IDLE_THREAD")) std::thread([] { pause(); }).detach();
    run_and_print(getenv("BENCH_PRELOADED")     ? "preload"
                  : getenv("BENCH_IDLE_THREAD") ? "plain+1t"
                                                : "plain");
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: hookcost PATH-TO-huptime\n");
    return 2;
  }
  std::string self = "/proc/self/exe";
  char exe[4096];
  ssize_t n = readlink(self.c_str(), exe, sizeof exe - 1);
  if (n <= 0) return 1;
  exe[n] = '\0';
  std::string plain = std::string(exe) + " --child";
  std::string threaded = "BENCH_IDLE_THREAD=1 " + plain;
  std::string preload = "BENCH_PRELOADED=1 " + std::string(argv[1]) +
                        " --exec -- " + exe + " --child";
  printf("hook cost, ns per call (best of 5 rounds)\n");
  printf("%-8s %16s %16s %20s\n", "run", "close(untracked)", "accept+close",
         "4 threads close");
  for (int round = 0; round < 2; ++round) {
    for (const std::string& cmd : {plain, threaded, preload}) {
      FILE* p = popen(cmd.c_str(), "r");
      char label[32];
      double c, a, t;
      if (!p || fscanf(p, "%31s %lf %lf %lf", label, &c, &a, &t) != 4) {
        fprintf(stderr, "hookcost: %s failed\n", cmd.c_str());
        return 1;
      }
      pclose(p);
      printf("%-8s %16.1f %16.1f %20.1f\n", label, c, a, t);
    }
  }
  return 0;
}
