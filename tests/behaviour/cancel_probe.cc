// cancel_probe: accept() and close() of the program stay cancellation
// points under the preload, as libc's are. The hooks make the system calls
// themselves on their fast paths (lib/listeners.cc, lib/fd_ops.cc), so
// this checks what libc's wrappers would have done:
//   blocked-accept    a thread blocked in accept() on a blocking listener
//                     is cancelled there
//   pending-accept    a cancellation pending when accept4() is called is
//                     acted upon before a connection is taken (it stays in
//                     the backlog for the next accept)
//   pending-close     the same for close() of a tracked connection: the fd
//                     stays open
//   linger-close      a close() that blocks (SO_LINGER with a timeout, set
//                     on the connection, unsent data) is cancelled while
//                     it waits, not after the linger timeout
//   linger-dup        the same when the last close is of a dup()
//   linger-inherited  the same with SO_LINGER set on the listener before
//                     listen(): connections inherit it
// Run under the launcher (tests/behaviour/meson.build). Prints one line per
// check and exits 0 when all hold, 1 otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

namespace {

constexpr int kLingerSeconds = 30;  // a close that waits this long fails
constexpr int kJoinSeconds = 10;

bool g_ok = true;

void report(const char* name, bool ok, const std::string& detail = "") {
  std::printf("%s %s%s%s\n", ok ? "ok" : "FAILED", name,
              detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stdout);
  g_ok = g_ok && ok;
}

int make_listener(sockaddr_in* addr, bool linger_first) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (linger_first) {
    linger l{1, kLingerSeconds};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *addr;
  auto* sa = reinterpret_cast<sockaddr*>(addr);
  if (fd < 0 || bind(fd, sa, len) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, sa, &len) != 0) {
    std::perror("cancel_probe: listener");
    std::exit(1);
  }
  return fd;
}

int connect_to(const sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 ||
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("cancel_probe: connect");
    std::exit(1);
  }
  return fd;
}

// Waits (bounded) until thread `tid` sleeps in the kernel: state S in
// /proc/self/task/TID/stat.
bool wait_sleeping(pid_t tid) {
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() &&
        stat[paren + 2] == 'S')
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A thread that runs `fn` with the cancellation request made while it
// has cancellation disabled (pending when fn starts), or made once the
// thread sleeps inside fn (`pending` false).
struct Probe {
  int (*fn)(int) = nullptr;
  int arg = -1;
  bool pending = false;
  std::atomic<pid_t> tid{0};
  std::atomic<int> stage{0};  // 1: ready for the request, 2: requested
  std::atomic<bool> returned{false};
};

void* probe_thread(void* p) {
  auto* probe = static_cast<Probe*>(p);
  probe->tid.store(gettid());
  if (probe->pending) {
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
    probe->stage.store(1);
    while (probe->stage.load() != 2) std::this_thread::yield();
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
  } else {
    probe->stage.store(1);
  }
  probe->fn(probe->arg);
  probe->returned.store(true);
  return nullptr;
}

// Runs the probe and reports whether the thread ended cancelled, within
// kJoinSeconds, without its call returning.
void run_probe(const char* name, Probe& probe) {
  pthread_t thread;
  if (pthread_create(&thread, nullptr, probe_thread, &probe) != 0) {
    report(name, false, "pthread_create");
    return;
  }
  while (probe.stage.load() != 1) std::this_thread::yield();
  if (!probe.pending && !wait_sleeping(probe.tid.load())) {
    report(name, false, "the thread never slept in the call");
    pthread_cancel(thread);
    pthread_detach(thread);
    return;
  }
  auto start = std::chrono::steady_clock::now();
  pthread_cancel(thread);
  probe.stage.store(2);
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += kJoinSeconds;
  void* result = nullptr;
  int rc = pthread_timedjoin_np(thread, &result, &deadline);
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  if (rc != 0) {
    report(name, false,
           "not cancelled within " + std::to_string(kJoinSeconds) + " s");
    pthread_detach(thread);
    return;
  }
  bool ok = result == PTHREAD_CANCELED && !probe.returned.load();
  report(
      name, ok,
      std::string(result == PTHREAD_CANCELED ? "cancelled" : "not cancelled") +
          (probe.returned.load() ? ", the call returned" : "") + " after " +
          std::to_string(static_cast<int>(ms)) + " ms");
}

int do_accept(int fd) { return accept(fd, nullptr, nullptr); }
int do_accept4(int fd) { return accept4(fd, nullptr, nullptr, SOCK_CLOEXEC); }
int do_close(int fd) { return close(fd); }

// A tracked connection whose close() will wait: the peer never reads, and
// the connection's send queue is full when close() is called.
int stuck_connection(int listener, const sockaddr_in& addr, bool set_linger,
                     int* peer) {
  *peer = connect_to(addr);
  int rcvbuf = 4096;
  setsockopt(*peer, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int conn = accept(listener, nullptr, nullptr);
  if (conn < 0) return -1;
  if (set_linger) {
    linger l{1, kLingerSeconds};
    setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  int flags = fcntl(conn, F_GETFL);
  fcntl(conn, F_SETFL, flags | O_NONBLOCK);
  char block[16384] = {};
  while (write(conn, block, sizeof block) > 0) {
  }
  fcntl(conn, F_SETFL, flags);
  return conn;
}

}  // namespace

int main() {
  sockaddr_in addr;
  int listener = make_listener(&addr, false);

  Probe blocked;
  blocked.fn = do_accept;
  blocked.arg = listener;
  run_probe("blocked-accept", blocked);

  int waiting = connect_to(addr);
  Probe pending_accept;
  pending_accept.fn = do_accept4;
  pending_accept.arg = listener;
  pending_accept.pending = true;
  run_probe("pending-accept", pending_accept);
  // Not accept() alone: if the thread took the connection, that would block.
  pollfd ready{listener, POLLIN, 0};
  int left =
      poll(&ready, 1, 2000) == 1 ? accept(listener, nullptr, nullptr) : -1;
  report("pending-accept: the connection stayed in the backlog", left >= 0);

  Probe pending_close;
  pending_close.fn = do_close;
  pending_close.arg = left;
  pending_close.pending = true;
  run_probe("pending-close", pending_close);
  report("pending-close: the fd stayed open", fcntl(left, F_GETFD) >= 0);
  if (left >= 0) close(left);
  close(waiting);

  int peer = -1;
  Probe linger_close;
  linger_close.fn = do_close;
  linger_close.arg = stuck_connection(listener, addr, true, &peer);
  run_probe("linger-close", linger_close);
  close(peer);

  // The last close of a socket is the one that lingers: here a dup's.
  Probe linger_dup;
  linger_dup.fn = do_close;
  int original = stuck_connection(listener, addr, true, &peer);
  linger_dup.arg = dup(original);
  close(original);
  run_probe("linger-dup", linger_dup);
  close(peer);

  sockaddr_in addr2;
  int lingering_listener = make_listener(&addr2, true);
  Probe linger_inherited;
  linger_inherited.fn = do_close;
  linger_inherited.arg =
      stuck_connection(lingering_listener, addr2, false, &peer);
  run_probe("linger-inherited", linger_inherited);
  close(peer);
  close(lingering_listener);
  close(listener);
  return g_ok ? 0 : 1;
}
