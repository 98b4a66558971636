// Unit tests for the control commands (launcher/control.h, status.h,
// service_scan.h), against fake services built in-process: memfds named
// huptime-service and huptime-generation holding the pages the library
// would write (lib/shared_state.h), held by this test process or by
// fork()ed children. The "library" side of --restart is a thread or a child
// that answers the restart signal by updating the page.
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

using namespace huptime;
using namespace huptime::launcher_test;

namespace {

template <typename T>
T* map_rw(int fd, size_t size) {
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return mem == MAP_FAILED ? nullptr : static_cast<T*>(mem);
}

FileId id_of(int fd) {
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
std::vector<std::string> unique_argv(std::string_view tag) {
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

[[noreturn]] void ready_then_pause(int ready_fd) {
  char byte = 1;
  if (write(ready_fd, &byte, 1) != 1) _exit(1);
  for (;;) pause();
}

// A process that is certainly not a service: `sleep`, once exec()ed (the
// CLOEXEC pipe reads EOF then), so the memfds this process holds are closed
// in it. (<spawn.h> is shadowed by lib/spawn.h on the include path.)
pid_t spawn_sleep() {
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

bool has_id(const std::vector<MemfdRef>& refs, const FileId& id) {
  return std::any_of(refs.begin(), refs.end(),
                     [&](const MemfdRef& ref) { return ref.id == id; });
}

}  // namespace

// ------------------------------------------------------------------ scan

TEST_CASE("scan: this process holds the fake service's memfds", "[scan]") {
  std::vector<std::string> argv = unique_argv("scan");
  FakeService service(argv);
  FakeGeneration generation(1, getpid());
  REQUIRE(service.page);
  REQUIRE(generation.page);

  Probe probe = probe_process(kProcRoot, getpid());
  REQUIRE(probe.error == ProbeError::kNone);
  CHECK(has_id(probe.memfds.services, service.id()));
  CHECK(has_id(probe.memfds.generations, generation.id()));
  CHECK_FALSE(has_id(probe.memfds.services, generation.id()));
  for (const MemfdRef& ref : probe.memfds.services)
    CHECK(ref.path == "/proc/" + std::to_string(getpid()) + "/fd/" +
                          std::to_string(ref.fd));

  std::vector<ProcessMemfds> members =
      members_of(scan_services(kProcRoot), service.id());
  CHECK(pids_of(members) == std::vector<pid_t>{getpid()});
  CHECK(parent_pid(kProcRoot, getpid()) == getppid());
}

TEST_CASE("scan: found by pid, with the stored argv", "[scan]") {
  std::vector<std::string> argv = unique_argv("bypid");
  FakeService service(argv);
  REQUIRE(service.page);
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_pid(kProcRoot, getpid(), &error);
  REQUIRE(handle.has_value());
  CHECK(error.empty());
  CHECK(handle->id == service.id());
  CHECK(handle->named_pid == getpid());
  CHECK(pids_of(handle->members) == std::vector<pid_t>{getpid()});
  CHECK(handle->page.argv_bytes() == encode_list(argv));
  CHECK(decode_list(handle->page.argv_bytes()) == argv);
}

TEST_CASE("scan: found by COMMAND, exactly", "[scan]") {
  std::vector<std::string> argv = unique_argv("bycmd");
  FakeService service(argv);
  REQUIRE(service.page);
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_command(kProcRoot, argv, &error);
  REQUIRE(handle.has_value());
  CHECK(handle->id == service.id());
  CHECK(handle->named_pid == getpid());

  std::vector<std::string> longer = argv;
  longer.push_back("-v");
  CHECK_FALSE(find_service_by_command(kProcRoot, longer, &error));
  CHECK(error ==
        "no running service matches: " + argv[0] + " --port '80 80' -v");
  CHECK_FALSE(
      find_service_by_command(kProcRoot, {argv[0], "--port", "80"}, &error));
}

TEST_CASE("scan: two services with the same COMMAND", "[scan]") {
  std::vector<std::string> argv = unique_argv("twice");
  FakeService first(argv);
  FakeService second(argv);
  REQUIRE(first.page);
  REQUIRE(second.page);
  std::string error;
  CHECK_FALSE(find_service_by_command(kProcRoot, argv, &error));
  std::string self = std::to_string(getpid());
  CHECK(error == "2 services match: " + argv[0] + " --port '80 80' (pids " +
                     self + ", " + self + "); choose one with --pid");
}

TEST_CASE("scan: what is not a service", "[scan]") {
  std::string error;
  pid_t sleeper = spawn_sleep();
  CHECK_FALSE(find_service_by_pid(kProcRoot, sleeper, &error));
  CHECK(error ==
        "pid " + std::to_string(sleeper) + " is not a service run by huptime");
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);

  // Reaped: the pid is free (and not reused this soon).
  CHECK_FALSE(find_service_by_pid(kProcRoot, sleeper, &error));
  CHECK(error == "no process " + std::to_string(sleeper));

  // A memfd with a similar name does not count.
  int other = memfd_create("huptime-service-not", MFD_CLOEXEC);
  REQUIRE(other >= 0);
  Probe probe = probe_process(kProcRoot, getpid());
  close(other);
  for (const MemfdRef& ref : probe.memfds.services) CHECK(ref.fd != other);

  TempDir tmp;
  CHECK(probe_process(tmp.path(), 1).error == ProbeError::kNoProcess);
  CHECK(scan_services(tmp / "missing").empty());
}

TEST_CASE("scan: another user's process is refused", "[scan]") {
  if (geteuid() != 0) {
    struct stat st {};
    if (stat("/proc/1", &st) != 0 || st.st_uid == geteuid()) return;
    std::string error;
    CHECK_FALSE(find_service_by_pid(kProcRoot, 1, &error));
    CHECK(error == "pid 1 belongs to another user: permission denied");
    return;
  }
  // As root: a child that gives up root looks at this process.
  FakeService service(unique_argv("perm"));
  REQUIRE(service.page);
  pid_t self = getpid();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    std::string error;
    bool found = find_service_by_pid(kProcRoot, self, &error).has_value();
    _exit(!found && error == "pid " + std::to_string(self) +
                                 " belongs to another user: permission "
                                 "denied"
              ? 0
              : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("scan: pidfiles", "[scan]") {
  TempDir tmp;
  std::string error;
  CHECK(read_pidfile(tmp.write("a", "1234\n", 0644), &error) == 1234);
  CHECK(read_pidfile(tmp.write("b", "  77 \t\n", 0644), &error) == 77);
  for (const char* bad : {"", "abc\n", "0\n", "-5", "+5", "12 34", "1.5"}) {
    INFO(bad);
    std::string path = tmp.write("bad", bad, 0644);
    CHECK_FALSE(read_pidfile(path, &error));
    CHECK(error == "pidfile " + path + " does not hold a pid");
  }
  CHECK_FALSE(read_pidfile(tmp / "missing", &error));
  CHECK(error == "cannot read pidfile " + (tmp / "missing") +
                     ": No such file or directory");
}

// ---------------------------------------------------------------- status

TEST_CASE("status: the text scripts parse", "[status]") {
  StatusReport report;
  report.argv = {"./server", "--port", "8080"};
  report.begun = 5;
  report.ended = 5;
  report.failed = 1;
  report.last_ok = true;
  report.rows = {
      {3, 4242, GenPhase::kDraining, 12'449, 2, {4242, 4250, 4251}},
      {4, 4300, GenPhase::kReady, 1'200, 0, {4300, 4310, 4311}},
  };
  CHECK(format_status(report) ==
        "service: ./server --port 8080   (mode fork, restart signal HUP)\n"
        "restarts: 5 begun, 5 ended, 1 failed; last: ok\n"
        "GEN  PID    STATE     AGE      CONNS  PROCS  PIDS\n"
        "3    4242   draining  12.4s    2      3      4242,4250,4251\n"
        "4    4300   ready     1.2s     0      3      4300,4310,4311\n");

  report.rows = {
      {123456, 4194304, GenPhase::kStarting, 123'456'789, 1234567, {4194304}}};
  report.mode = Mode::kExec;
  report.restart_signal = SIGUSR2;
  std::string text = format_status(report);
  CHECK_THAT(text, Catch::Contains("(mode exec, restart signal USR2)"));
  CHECK_THAT(text,
             Catch::EndsWith("123456  4194304  starting  123456.7s  1234567  "
                             "1      4194304\n"));
}

TEST_CASE("status: how the last restart went", "[status]") {
  StatusReport report;
  CHECK(last_restart_text(report) == "none");
  report.begun = 1;
  CHECK(last_restart_text(report) == "in progress");
  report.ended = 1;
  CHECK(last_restart_text(report) == "failed: unknown reason");
  report.last_error = "check `nginx -t` failed: exit status 1";
  CHECK(last_restart_text(report) ==
        "failed: check `nginx -t` failed: exit status 1");
  report.last_ok = true;
  CHECK(last_restart_text(report) == "ok");
}

TEST_CASE("status: shell quoting and durations", "[status]") {
  CHECK(shell_join({"./server", "--port=80", "a b", "", "it's"}) ==
        "./server --port=80 'a b' '' 'it'\\''s'");
  CHECK(seconds_text(10'000) == "10 s");
  CHECK(seconds_text(1'500) == "1.5 s");
  CHECK(seconds_text(250) == "0.25 s");
  CHECK(seconds_text(90'001) == "90.001 s");
}

TEST_CASE("status: members grouped by generation", "[status]") {
  std::vector<std::string> argv = unique_argv("status");
  FakeService service(argv);
  REQUIRE(service.page);
  service.page->begun.store(2);
  service.page->ended.store(2);
  service.page->failed.store(1);
  service.page->mode.store(1);
  std::strcpy(service.page->last_error, "the new copy exited (status 3)");
  FakeGeneration old_gen(1, getpid(), 12'400);
  REQUIRE(old_gen.page);
  old_gen.page->ready.store(1);
  old_gen.page->draining.store(1);
  old_gen.slot(0, getpid(), 3);
  old_gen.slot(1, 999'999'9, 50);  // not a member: not counted

  // The child inherits both pages, then sets up generation 2 and is its
  // root: it holds two generation memfds and belongs to the newer one.
  Child child([](int ready_fd) {
    FakeGeneration next(2, getpid(), 1'200);
    next.page->ready.store(1);
    next.slot(0, getpid(), 4);
    ready_then_pause(ready_fd);
  });
  Probe probe = probe_process(kProcRoot, child.pid());
  REQUIRE(probe.memfds.generations.size() == 2);

  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_command(kProcRoot, argv, &error);
  REQUIRE(handle.has_value());
  CHECK(pids_of(handle->members) ==
        std::vector<pid_t>{std::min(getpid(), child.pid()),
                           std::max(getpid(), child.pid())});
  StatusReport report =
      collect_status(handle->page, handle->members, monotonic_ms());
  CHECK(report.argv == argv);
  CHECK(report.mode == Mode::kExec);
  CHECK(report.restart_signal == SIGUSR2);
  CHECK(last_restart_text(report) == "failed: the new copy exited (status 3)");
  REQUIRE(report.rows.size() == 2);
  CHECK(report.rows[0].generation == 1);
  CHECK(report.rows[0].root_pid == getpid());
  CHECK(report.rows[0].phase == GenPhase::kDraining);
  CHECK(report.rows[0].age_ms >= 12'400);
  CHECK(report.rows[0].age_ms < 60'000);
  CHECK(report.rows[0].conns == 3);
  CHECK(report.rows[0].pids == std::vector<pid_t>{getpid()});
  CHECK(report.rows[1].generation == 2);
  CHECK(report.rows[1].root_pid == child.pid());
  CHECK(report.rows[1].phase == GenPhase::kReady);
  CHECK(report.rows[1].conns == 4);
  CHECK(report.rows[1].pids == std::vector<pid_t>{child.pid()});

  ControlResult result = service_status(*handle);
  CHECK(result.status == 0);
  CHECK(result.err.empty());
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line ==
        "service: " + shell_join(argv) + "   (mode exec, restart signal USR2)");
  std::getline(lines, line);
  CHECK(line ==
        "restarts: 2 begun, 2 ended, 1 failed; last: failed: the new copy "
        "exited (status 3)");
  std::getline(lines, line);
  CHECK(line == "GEN  PID    STATE     AGE      CONNS  PROCS  PIDS");
  std::getline(lines, line);
  std::istringstream row(line);
  std::string gen, pid, state, age, conns, procs, pids;
  row >> gen >> pid >> state >> age >> conns >> procs >> pids;
  CHECK(gen == "1");
  CHECK(pid == std::to_string(getpid()));
  CHECK(state == "draining");
  CHECK_THAT(age, Catch::EndsWith("s"));
  CHECK(conns == "3");
  CHECK(procs == "1");
  CHECK(pids == std::to_string(getpid()));
}

TEST_CASE("control: run_control dispatches --status", "[control]") {
  FakeService service(unique_argv("dispatch"));
  REQUIRE(service.page);
  Options options;
  options.action = Action::kStatus;
  options.target.pid = getpid();
  ControlResult result = run_control(options);
  CHECK(result.status == 0);
  CHECK_THAT(result.out, Catch::StartsWith("service: /fake/dispatch-"));

  pid_t sleeper = spawn_sleep();
  options.target.pid = sleeper;
  result = run_control(options);
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  CHECK(result.status == 1);
  CHECK(result.out.empty());
  CHECK(result.err == "huptime: pid " + std::to_string(sleeper) +
                          " is not a service run by huptime\n");
}

// --------------------------------------------------------------- restart

namespace {

// SIGUSR2 (the fake services' restart signal) blocked in this thread and in
// the threads it creates, so the "library" thread takes it with sigwait;
// anything left pending is discarded at the end.
struct BlockRestartSignal {
  sigset_t set{}, old{};
  BlockRestartSignal() {
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~BlockRestartSignal() {
    timespec zero{};
    while (sigtimedwait(&set, nullptr, &zero) == SIGUSR2) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  bool wait(int ms) const {
    timespec timeout{ms / 1000, ms % 1000 * 1'000'000L};
    return sigtimedwait(&set, nullptr, &timeout) == SIGUSR2;
  }
};

// Plays the library: on the restart signal, begins an attempt and ends it.
void answer_restart(FakeService* service, const BlockRestartSignal* block,
                    bool ok, const char* reason) {
  if (!block->wait(5'000)) return;
  ServiceShared* page = service->page;
  page->attempt_pid.store(getpid());
  page->begun.fetch_add(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (ok) {
    page->current_gen.store(7);
    page->current_pid.store(getpid());
  }
  service->end_attempt(ok, reason);
}

ServiceHandle handle_for_self() {
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_pid(kProcRoot, getpid(), &error);
  INFO(error);
  REQUIRE(handle.has_value());
  return std::move(*handle);
}

}  // namespace

TEST_CASE("restart: waits for the attempt it started", "[restart]") {
  BlockRestartSignal block;
  FakeService service(unique_argv("restart"));
  REQUIRE(service.page);
  ServiceHandle handle = handle_for_self();

  std::thread library(answer_restart, &service, &block, true, "");
  ControlResult result = restart_service(kProcRoot, handle, 10'000);
  library.join();
  CHECK(result.status == 0);
  CHECK(result.err.empty());
  CHECK(result.out == "huptime: restarted: generation 7 is serving (pid " +
                          std::to_string(getpid()) + ")\n");

  // Once more: begun/ended are now 1, the target is 2.
  std::thread again(answer_restart, &service, &block, false,
                    "check `false` failed: exit status 1");
  result = restart_service(kProcRoot, handle, 10'000);
  again.join();
  CHECK(result.status == 1);
  CHECK(result.out.empty());
  CHECK(result.err ==
        "huptime: restart failed: check `false` failed: exit status 1\n");
  CHECK(service.page->ended.load() == 2);
}

TEST_CASE("restart: an attempt in flight is waited for first", "[restart]") {
  BlockRestartSignal block;
  FakeService service(unique_argv("inflight"));
  REQUIRE(service.page);
  service.page->begun.store(1);  // begun by this (live) process
  service.page->attempt_pid.store(getpid());
  ServiceHandle handle = handle_for_self();

  std::atomic<bool> early_signal{false};
  std::thread library([&] {
    early_signal = block.wait(300);  // nothing may arrive meanwhile
    service.end_attempt(true);
    answer_restart(&service, &block, true, "");
  });
  ControlResult result = restart_service(kProcRoot, handle, 10'000);
  library.join();
  CHECK_FALSE(early_signal);
  CHECK(result.status == 0);
  CHECK(service.page->begun.load() == 2);
  CHECK(service.page->ended.load() == 2);
}

TEST_CASE("restart: an abandoned attempt is not waited for", "[restart]") {
  BlockRestartSignal block;
  FakeService service(unique_argv("abandoned"));
  REQUIRE(service.page);
  pid_t dead = spawn_sleep();
  kill(dead, SIGKILL);
  waitpid(dead, nullptr, 0);
  service.page->begun.store(1);
  service.page->attempt_pid.store(dead);
  ServiceHandle handle = handle_for_self();
  std::thread library([&] {
    // The library ends the stale attempt when the next one begins.
    if (!block.wait(5'000)) return;
    service.page->attempt_pid.store(getpid());
    service.page->begun.fetch_add(1);
    service.end_attempt(true);
  });
  ControlResult result = restart_service(kProcRoot, handle, 10'000);
  library.join();
  CHECK(result.status == 0);
}

TEST_CASE(
    "restart: an attempt stuck past its start timeout is not waited "
    "for",
    "[restart]") {
  BlockRestartSignal block;
  FakeService service(unique_argv("stuck"));
  REQUIRE(service.page);
  service.page->begun.store(1);
  service.page->attempt_pid.store(getpid());  // alive, but hung
  service.page->attempt_ms.store(monotonic_ms() - 5'000 - 5'001);
  ServiceHandle handle = handle_for_self();
  std::thread library(answer_restart, &service, &block, true, "");
  ControlResult result = restart_service(kProcRoot, handle, 3'000);
  library.join();
  CHECK(result.status == 0);
}

TEST_CASE("restart: timeout", "[restart]") {
  BlockRestartSignal block;
  FakeService service(unique_argv("timeout"));
  REQUIRE(service.page);
  ServiceHandle handle = handle_for_self();
  auto start = std::chrono::steady_clock::now();
  ControlResult result = restart_service(kProcRoot, handle, 300);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(result.status == 1);
  CHECK(result.err == "huptime: restart did not finish within 0.3 s\n");
  CHECK(elapsed >= std::chrono::milliseconds(290));  // ms resolution
  CHECK(elapsed < std::chrono::seconds(3));
  CHECK(block.wait(0));  // the signal was sent
}

TEST_CASE("restart: the service exits", "[restart]") {
  std::vector<std::string> argv = unique_argv("exits");
  // The restart signal (SIGUSR2) kills this service.
  Child child([&](int ready_fd) {
    FakeService service(argv);
    ready_then_pause(ready_fd);
  });
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_command(kProcRoot, argv, &error);
  REQUIRE(handle.has_value());
  CHECK(handle->named_pid == child.pid());
  ControlResult result = restart_service(kProcRoot, *handle, 10'000);
  CHECK(result.status == 1);
  CHECK(result.err == "huptime: restart failed: the service exited\n");
  int status = child.wait();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGUSR2);
}

// ------------------------------------------------------------------ stop

TEST_CASE("stop: TERM to the top of the tree, then everyone is gone",
          "[stop]") {
  std::vector<std::string> argv = unique_argv("stop");
  Child child([&](int ready_fd) {
    FakeService service(argv);
    FakeGeneration generation(1, getpid());
    // A worker of the same generation: not signalled while its parent is
    // there (the program stops its own workers); found again once
    // orphaned.
    if (fork() == 0)
      for (;;) pause();
    ready_then_pause(ready_fd);
  });
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_pid(kProcRoot, child.pid(), &error);
  REQUIRE(handle.has_value());
  REQUIRE(handle->members.size() == 2);
  ControlResult result = stop_service(kProcRoot, *handle, 5'000);
  CHECK(result.status == 0);
  CHECK(result.err.empty());
  CHECK(result.out == "huptime: stopped (2 processes)\n");
  int status = child.wait();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
}

TEST_CASE("stop: SIGKILL after the timeout", "[stop]") {
  std::vector<std::string> argv = unique_argv("stubborn");
  Child child([&](int ready_fd) {
    signal(SIGTERM, SIG_IGN);
    FakeService service(argv);
    ready_then_pause(ready_fd);
  });
  std::string error;
  std::optional<ServiceHandle> handle =
      find_service_by_command(kProcRoot, argv, &error);
  REQUIRE(handle.has_value());
  ControlResult result = stop_service(kProcRoot, *handle, 200);
  CHECK(result.status == 0);
  CHECK(result.out == "huptime: stopped (1 process)\n");
  CHECK(result.err ==
        "huptime: warning: 1 process still running after "
        "0.2 s (pids " +
            std::to_string(child.pid()) + "): sending SIGKILL\n");
  int status = child.wait();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}
