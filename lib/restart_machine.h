// The restart state machine: one process's part in a restart, as states ×
// events → actions, with no I/O. restart.cc feeds it events and carries out
// the actions it returns.
//
// Rules it keeps:
//  - At any time one or two generations exist, and at most one of them is
//    not ready: a process starts a new copy only from kServing, and only
//    the process holding the generation's restart token does (restart.cc).
//  - The old generation serves until the new one is ready: listeners are
//    retired only on kNewReady (fork mode). Exec mode cannot overlap, so it
//    retires at once and re-execs after draining; if exec fails it resumes.
//  - One upgrade in flight: a restart signal while starting (or, in exec
//    mode, while the leader drains) is owed as one follow-up, kept in the
//    service's shared page (service_state.h) so that whichever generation
//    serves once the upgrade ends starts it: the old one after a failure,
//    the new one once it is ready. Owed signals coalesce into one.
//  - Every wait has a deadline: starting (start_timeout) and draining
//    (drain_timeout). On a start timeout the new copy is killed and the old
//    one keeps serving; on a drain timeout the remaining connections are
//    closed.
//
//   kServing --restart(fork)--> kStarting --ready--> kDraining --drained-->
//   kDone
//      |  ^                        |                    ^   |
//      |  +----failed/timeout------+                    |   +--(exec leader)
//      re-exec
//      +--restart(exec) or drain requested by a sibling-+
#pragma once

#include <cstdint>

#include "config.h"

namespace huptime {

enum class RestartState { kServing, kStarting, kDraining, kDone };

enum class RestartEvent {
  kRestartSignal,  // this process holds the restart token and got the signal
  kNewReady,       // the new copy reported ready
  kNewFailed,      // the new copy went away before it was ready
  kStartTimeout,
  kDrainRequested,  // another process of this generation started draining
  kDrained,         // no connection left in this process
  kDrainTimeout,
  kExecFailed,  // exec mode: the re-exec did not happen
};

namespace action {
inline constexpr uint32_t kSpawn = 1u << 0;            // start a new copy
inline constexpr uint32_t kKillNew = 1u << 1;          // kill the starting copy
inline constexpr uint32_t kReleaseToken = 1u << 2;     // end of this upgrade
inline constexpr uint32_t kAnnounceDrain = 1u << 3;    // tell the generation
inline constexpr uint32_t kStopAccepting = 1u << 4;    // retire listeners
inline constexpr uint32_t kResumeAccepting = 1u << 5;  // undo kStopAccepting
inline constexpr uint32_t kCloseConns = 1u << 6;       // drain deadline passed
inline constexpr uint32_t kExit = 1u << 7;
inline constexpr uint32_t kReExec = 1u << 8;
inline constexpr uint32_t kIgnored = 1u << 9;      // event had no effect
inline constexpr uint32_t kOweRestart = 1u << 10;  // record a follow-up
}  // namespace action

struct RestartTimeouts {
  int64_t start_ms = 60'000;
  int64_t drain_ms = 30'000;
};

// The defaults; the launcher's --start-timeout and --drain-timeout set them.
class RestartMachine {
 public:
  RestartMachine(Mode mode, RestartTimeouts timeouts)
      : mode_(mode), timeouts_(timeouts) {}

  // Applies one event at time now_ms (monotonic) and returns the actions
  // to carry out, in bit order.
  uint32_t on(RestartEvent event, int64_t now_ms);

  RestartState state() const { return state_; }
  bool leader() const { return leader_; }
  // The deadline of the current state, or -1 when there is none.
  int64_t deadline_ms() const { return deadline_ms_; }
  // The event to feed when the deadline passes.
  RestartEvent deadline_event() const {
    return state_ == RestartState::kStarting ? RestartEvent::kStartTimeout
                                             : RestartEvent::kDrainTimeout;
  }

 private:
  uint32_t start(int64_t now_ms);
  uint32_t drain(int64_t now_ms, uint32_t extra);
  uint32_t finish_drain(uint32_t extra);
  uint32_t back_to_serving(uint32_t extra);

  Mode mode_;
  RestartTimeouts timeouts_;
  RestartState state_ = RestartState::kServing;
  bool leader_ = false;  // this process runs the current upgrade
  int64_t deadline_ms_ = -1;
};

const char* state_name(RestartState state);
const char* event_name(RestartEvent event);

}  // namespace huptime
