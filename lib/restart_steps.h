// The restart thread of one process (restart.h): its steps are in
// restart.cc, the loop that waits for their events in restart_loop.cc.
#pragma once

#include <cstdint>
#include <string>

#include "new_copy.h"
#include "restart_machine.h"
#include "runtime.h"

namespace huptime {

// The restart thread of one process: feeds its RestartMachine and
// carries out the actions.
class RestartThread {
 public:
  RestartThread()
      : machine_(g_rt.config->mode,
                 RestartTimeouts{g_rt.config->start_timeout_ms,
                                 g_rt.config->drain_timeout_ms}) {}
  [[noreturn]] void run();

 private:
  void handle(RestartEvent event);
  void carry_out(uint32_t actions);
  void on_signal();
  bool may_lead_exec_restart(const std::string& sig);
  void root_exit_step(bool exited, int64_t now);
  void begin_restart(const char* why);
  bool preflight(std::string* reason);
  void start_new_copy();
  void on_ready_channel(NewCopy::Report report);
  void new_copy_ready();
  void new_copy_failed(const std::string& reason);
  void start_owed_restart();
  void send_stop_signal();
  void drain_step(int64_t now);
  void read_own_notify();
  void check_reexec_deadline(int64_t now);
  void master_gone();
  [[noreturn]] void exit_drained();
  void reexec();

  RestartMachine machine_;
  NewCopy copy_;
  int64_t next_sweep_ms_ = -1;
  // Set by the first signal a daemon's service owes (may_lead_exec_restart).
  int64_t root_wait_until_ms_ = -1;
};

}  // namespace huptime
