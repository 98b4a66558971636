// Unit tests for --restart and --stop (launcher/control.h), against fake
// services (fake_service.h): the "library" side of --restart is a thread or
// a child that answers the restart signal by updating the page.
#include "fake_service.h"

using namespace huptime;
using namespace huptime::launcher_test;
using namespace huptime::fake_service;

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
