// Unit tests for the control commands (launcher/control.h, status.h,
// service_scan.h), against fake services built in-process: memfds named
// huptime-service and huptime-generation holding the pages the library
// would write (lib/shared_state.h), held by this test process or by
// fork()ed children. The "library" side of --restart is a thread or a child
// that answers the restart signal by updating the page.
#include "fake_service.h"

using namespace huptime;
using namespace huptime::launcher_test;
using namespace huptime::fake_service;

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

  report.owed = true;
  CHECK_THAT(format_status(report),
             Catch::Contains("1 failed; last: ok; one more owed\n"));

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
