#include "service_state.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "clock.h"
#include "env_codec.h"
#include "log.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "runtime.h"
#include "service_page.h"
#include "systemd_link.h"

namespace huptime {

namespace {

constinit std::atomic<ServiceShared*> g_page{nullptr};
constinit std::atomic<size_t> g_page_size{0};

ServiceShared* map_page(int fd, size_t size) {
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return mem == MAP_FAILED ? nullptr : static_cast<ServiceShared*>(mem);
}

void publish(ServiceShared* page, size_t size) {
  g_page_size.store(size);
  g_page.store(page, std::memory_order_release);
}

void wake_waiters(ServiceShared* page) {
  raw_syscall6(SYS_futex, reinterpret_cast<long>(&page->ended), FUTEX_WAKE,
               INT_MAX);
}

}  // namespace

bool service_ensure() {
  if (g_page.load(std::memory_order_acquire)) return true;
  const LaunchConfig& config = *g_rt.config;
  NewServicePage made = create_service_page(
      config, config.mode == Mode::kExec ? kPageModeExec : kPageModeFork);
  if (made.fd < 0 || adopt_our_fd(OurFd::kService, made.fd) < 0) {
    HUPTIME_LOG(kWarn, "cannot create the service state: {}", strerror(errno));
    if (made.page) munmap(made.page, made.size);
    return false;
  }
  publish(made.page, made.size);
  return true;
}

bool service_attach(int fd) {
  struct stat st;
  char link[64];
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < static_cast<off_t>(ServiceShared::kHeaderSize))
    return false;
  link[n] = '\0';
  if (strncmp(link, "/memfd:", 7) != 0 ||
      strncmp(link + 7, kServiceMemfdName, strlen(kServiceMemfdName)) != 0)
    return false;
  size_t size = static_cast<size_t>(st.st_size);
  ServiceShared* page = map_page(fd, size);
  if (!page) return false;
  if (page->magic.load() != ServiceShared::kMagic ||
      page->layout.load() != ServiceShared::kLayout ||
      ServiceShared::kHeaderSize + page->argv_len.load() > size) {
    munmap(page, size);
    return false;
  }
  adopt_our_fd(OurFd::kService, fd);
  // The launch settings may differ from the first generation's only if
  // the environment was tampered with; the page follows this image.
  const LaunchConfig& config = *g_rt.config;
  page->restart_signal.store(config.restart_signal);
  page->max_draining.store(config.max_draining);
  page->start_timeout_ms.store(config.start_timeout_ms);
  page->drain_timeout_ms.store(config.drain_timeout_ms);
  publish(page, size);
  return true;
}

ServiceShared* service_page() { return g_page.load(std::memory_order_acquire); }

int64_t service_attempt_deadline_ms() {
  ServiceShared* page = service_page();
  if (!page || page->ended.load() >= page->begun.load()) return -1;
  return page->attempt_ms.load() + page->start_timeout_ms.load();
}

bool service_restart_in_flight() {
  int64_t deadline = service_attempt_deadline_ms();
  if (deadline < 0 || monotonic_ms() > deadline + kStuckAttemptGraceMs)
    return false;
  pid_t leader = service_page()->attempt_pid.load();
  return leader > 0 && (kill(leader, 0) == 0 || errno == EPERM);
}

uint32_t service_begin_attempt() {
  ServiceShared* page = service_page();
  if (!page) return 0;
  if (page->ended.load() < page->begun.load() && !service_restart_in_flight())
    service_end_attempt(false, "it did not finish (its process died or hung)");
  page->attempt_pid.store(g_rt.pid.load());
  page->attempt_ms.store(monotonic_ms());
  return page->begun.fetch_add(1) + 1;
}

void service_end_attempt(bool ok, std::string_view reason) {
  ServiceShared* page = service_page();
  if (!page) return;
  uint32_t begun = page->begun.load();
  uint32_t ended = page->ended.load();
  if (ended >= begun) return;
  if (!ok) {
    size_t n = std::min(reason.size(), ServiceShared::kErrorSize - 1);
    memcpy(page->last_error, reason.data(), n);
    page->last_error[n] = '\0';
    page->failed.fetch_add(1);
  }
  page->last_ok.store(ok ? 1 : 0);
  // Ends every attempt begun so far: one outcome answers them all.
  if (!page->ended.compare_exchange_strong(ended, begun)) return;
  wake_waiters(page);
  bool fork_mode = g_rt.config->mode == Mode::kFork;
  systemd_restart_ended(ok, fork_mode ? page->current_pid.load() : 0, reason);
}

void service_set_current(uint32_t generation, pid_t main_pid) {
  ServiceShared* page = service_page();
  if (!page) return;
  page->current_pid.store(main_pid);
  page->current_gen.store(generation);
}

void service_set_pending() {
  if (ServiceShared* page = service_page()) page->pending.store(1);
}

bool service_take_pending() {
  ServiceShared* page = service_page();
  return page && page->pending.exchange(0) != 0;
}

bool service_too_many_draining(uint32_t generation) {
  ServiceShared* page = service_page();
  if (!page) return false;
  int64_t limit = page->max_draining.load();
  return int64_t{generation} + limit < int64_t{page->current_gen.load()};
}

}  // namespace huptime
