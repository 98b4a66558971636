// The master's state, shared by master.cc (set-up, event loop, signals,
// stop and exit) and master_copies.cc (starting copies, readiness, the
// restart roll, exits and revivals). See master.h for the behaviour.
#pragma once

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "master.h"
#include "master_listeners.h"
#include "restart_machine.h"
#include "seccomp_broker.h"
#include "service_page.h"

namespace huptime {

// One copy of the service (--multi); a lineage of generations, of which
// the master knows the serving one's main process.
struct Copy {
  pid_t leader = -1;
  int pidfd = -1;
  bool ready = false;
  int64_t started_ms = 0;
  int64_t ready_ms = 0;
  int revivals = 0;         // in a row, reset once stable
  int64_t revive_at = -1;   // a revival is scheduled
  int64_t exit_grace = -1;  // leader died during a restart: wait this long
  bool gone = false;        // dead for good (no --revive, or limit reached)
  int exit_status = -1;     // wait status of a leader that died, -1: unknown
  uint32_t generation = 0;
};

// A generation started under the seccomp filter (master_intercept.cc):
// the master plays the part the library plays inside a preloaded
// generation, with the same RestartMachine.
struct InterceptedGen {
  InterceptedGen(Mode mode, RestartTimeouts timeouts)
      : machine(mode, timeouts) {}
  size_t copy = 0;
  uint32_t number = 0;
  pid_t leader = -1;
  int pidfd = -1;
  int page_fd = -1;  // its GenShared page, which its processes hold; the
                     // master keeps the mapping only (--status would
                     // count it a member)
  dev_t page_dev = 0;
  ino_t page_ino = 0;
  GenShared* page = nullptr;
  RestartMachine machine;
  uint32_t successor = 0;   // the generation this one is starting
  pid_t replaced_by = -1;   // told to stop for this pid; not yet seen to
                            // stop accepting
  int notify_fd = -1;       // --ready=notify: its own NOTIFY_SOCKET
  bool said_ready = false;  // READY=1 arrived there
  bool ready = false;
  bool exited = false;
};

// A restart of every copy in turn.
struct Roll {
  bool active = false;
  bool owed = false;  // a restart signal arrived meanwhile
  size_t index = 0;
  uint32_t begun_at_send = 0;
  int64_t begin_deadline = -1;  // the copy must begin its attempt by then
  int64_t end_deadline = -1;
  pid_t signalled = -1;
};

class Master {
 public:
  explicit Master(MasterPlan plan);
  [[noreturn]] void run();

 private:
  // master.cc
  void setup();
  int poll_timeout_ms() const;
  void on_signal(const signalfd_siginfo& info);
  void begin_stop(int sig, const std::string& why);
  void signal_service(int sig);
  void signal_service_generation(dev_t dev, ino_t ino, int sig);
  void reap_children();
  void maybe_finish();
  [[noreturn]] void exit_like_service();
  void log(LogLevel level, const std::string& message) const;
  void notify(const std::string& message) const;

  // master_copies.cc
  void start_copy(size_t i, const char* why);
  void watch_leader(Copy& copy, pid_t pid);
  void tick(int64_t now);
  void check_readiness(int64_t now);
  void on_leader_exit(size_t i);
  void leader_dead(size_t i, int status);
  void on_restart_signal();
  void begin_roll();
  void roll_send(int64_t now);
  void roll_step(int64_t now);
  void end_roll(bool ok, const std::string& error);
  void observe_outside_restarts();
  bool adopt_successor(Copy& copy);
  int status_of(pid_t pid) const;
  bool all_ready() const;

  // master_intercept.cc
  InterceptedGen* launch_intercepted(size_t i, const char* why,
                                     std::string* error);
  void start_intercepted(size_t i, const char* why);
  InterceptedGen* intercepted(uint32_t number);
  InterceptedGen* serving_intercepted(size_t copy);
  void restart_intercepted(size_t i);
  void intercepted_tick(int64_t now);
  void intercepted_exit(InterceptedGen& gen);
  void apply(InterceptedGen& gen, uint32_t actions, int64_t now);
  bool intercepted_serves(const InterceptedGen& gen) const;
  void kill_generation(InterceptedGen& gen, int sig);
  void begin_attempt(pid_t leader);
  void end_attempt(bool ok, const std::string& error);
  void forget_exited();
  void read_notifications(InterceptedGen& gen);

  MasterPlan plan_;
  NewServicePage page_;
  int signal_fd_ = -1;
  int channel_ = -1;        // the master's end of the master socket
  int child_channel_ = -1;  // every generation's end
  HeldListeners held_;
  std::vector<Copy> copies_;
  Roll roll_;
  std::map<pid_t, int> reaped_;  // wait statuses of reaped children
  bool announced_ready_ = false;
  bool stopping_ = false;
  bool kill_leftovers_ = false;  // the service died: end what is left
  int64_t stop_since_ = -1;
  int exit_status_ = 0;  // wait status of the last main process; -1: unknown
  uint32_t seen_begun_ = 0;  // restarts the master did not start
  bool outside_reloading_ = false;
  pid_t self_ = 0;
  // Seccomp interception.
  std::unique_ptr<SyscallBroker> broker_;
  std::vector<std::unique_ptr<InterceptedGen>> intercepted_;
  uint32_t next_generation_ = 0;
  int notify_ours_ = -1;    // the master's end: notification fds arrive here
  int notify_theirs_ = -1;  // the child's end
};

}  // namespace huptime
