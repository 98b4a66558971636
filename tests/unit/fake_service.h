// Fake services for the control-command tests: memfds named
// huptime-service and huptime-generation holding the pages the library
// would write (lib/shared_state.h), held by this test process or by
// fork()ed children. Shared by test_launcher_control.cc (scan, status) and
// test_launcher_restart.cc (restart, stop).
#pragma once

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "control.h"
#include "env_codec.h"
#include "launcher_test_support.h"
#include "service_scan.h"
#include "shared_state.h"
#include "status.h"

namespace huptime::fake_service {

using namespace huptime::launcher_test;

template <typename T>
inline T* map_rw(int fd, size_t size) {
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return mem == MAP_FAILED ? nullptr : static_cast<T*>(mem);
}

inline FileId id_of(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return {st.st_dev, st.st_ino};
}

// A service page as the library creates it (lib/service_state.cc). Usable
// in a fork()ed child: no Catch2 assertion inside.
struct FakeService {
  int fd = -1;
  ServiceShared* page = nullptr;
  size_t size = 0;

  explicit FakeService(const std::vector<std::string>& argv) {
    std::string encoded = encode_list(argv);
    size = (ServiceShared::kHeaderSize + encoded.size() + 4095) / 4096 * 4096;
    fd = memfd_create(kServiceMemfdName, MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) return;
    page = map_rw<ServiceShared>(fd, size);
    if (!page) return;
    std::memcpy(reinterpret_cast<char*>(page) + ServiceShared::kHeaderSize,
                encoded.data(), encoded.size());
    page->argv_len.store(static_cast<uint32_t>(encoded.size()));
    page->layout.store(ServiceShared::kLayout);
    page->restart_signal.store(SIGUSR2);
    page->start_timeout_ms.store(5'000);
    page->magic.store(ServiceShared::kMagic);
  }
  ~FakeService() {
    if (page) munmap(page, size);
    if (fd >= 0) close(fd);
  }
  FakeService(const FakeService&) = delete;
  FakeService& operator=(const FakeService&) = delete;

  FileId id() const { return id_of(fd); }

  // What the library does when an attempt ends (service_end_attempt).
  void end_attempt(bool ok, const char* reason = "") {
    if (!ok) {
      std::strncpy(page->last_error, reason, ServiceShared::kErrorSize - 1);
      page->failed.fetch_add(1);
    }
    page->last_ok.store(ok ? 1 : 0);
    page->ended.store(page->begun.load());
    syscall(SYS_futex, &page->ended, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
};

// A generation page (lib/generation.cc), started `age_ms` ago.
struct FakeGeneration {
  int fd = -1;
  GenShared* page = nullptr;

  FakeGeneration(uint32_t generation, pid_t root, int64_t age_ms = 0) {
    fd = memfd_create(kGenerationMemfdName, MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, sizeof(GenShared)) != 0) return;
    page = map_rw<GenShared>(fd, sizeof(GenShared));
    if (!page) return;
    page->generation.store(generation);
    page->root_pid.store(root);
    page->started_ms.store(monotonic_ms() - age_ms);
    page->magic.store(GenShared::kMagic);
  }
  ~FakeGeneration() {
    if (page) munmap(page, sizeof(GenShared));
    if (fd >= 0) close(fd);
  }
  FakeGeneration(const FakeGeneration&) = delete;
  FakeGeneration& operator=(const FakeGeneration&) = delete;

  FileId id() const { return id_of(fd); }
  void slot(int i, pid_t pid, int32_t conns) {
    page->slots[i].pid.store(pid);
    page->slots[i].conns.store(conns);
  }
};

// An argv no other process on this machine runs under huptime.
inline std::vector<std::string> unique_argv(std::string_view tag) {
  static int counter = 0;
  return {"/fake/" + std::string(tag) + "-" + std::to_string(getpid()) + "-" +
              std::to_string(++counter),
          "--port", "80 80"};
}

// A fork()ed child running `body(ready_fd)`; `body` writes one byte to
// ready_fd once set up. Killed and reaped at the end of the test.
class Child {
 public:
  template <typename Body>
  explicit Child(Body body) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // Catch2's fatal-signal handlers must not report from the child.
      for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT})
        signal(sig, SIG_DFL);
      close(fds[0]);
      body(fds[1]);
      _exit(0);
    }
    close(fds[1]);
    ready_fd_ = fds[0];
    char byte;
    REQUIRE(read(ready_fd_, &byte, 1) == 1);
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(ready_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  bool reaped_ = false;
};

[[noreturn]] inline void ready_then_pause(int ready_fd) {
  char byte = 1;
  if (write(ready_fd, &byte, 1) != 1) _exit(1);
  for (;;) pause();
}

// A process that is certainly not a service: `sleep`, once exec()ed (the
// CLOEXEC pipe reads EOF then), so the memfds this process holds are closed
// in it. (<spawn.h> is shadowed by lib/spawn.h on the include path.)
inline pid_t spawn_sleep() {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  char byte;
  while (read(fds[0], &byte, 1) > 0) {
  }
  close(fds[0]);
  return pid;
}

inline bool has_id(const std::vector<MemfdRef>& refs, const FileId& id) {
  return std::any_of(refs.begin(), refs.end(),
                     [&](const MemfdRef& ref) { return ref.id == id; });
}

}  // namespace huptime::fake_service
