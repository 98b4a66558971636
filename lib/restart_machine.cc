#include "restart_machine.h"

namespace huptime {

uint32_t RestartMachine::start(int64_t now_ms) {
  leader_ = true;
  if (mode_ == Mode::kExec) return drain(now_ms, action::kAnnounceDrain);
  state_ = RestartState::kStarting;
  deadline_ms_ = now_ms + timeouts_.start_ms;
  return action::kSpawn;
}

uint32_t RestartMachine::drain(int64_t now_ms, uint32_t extra) {
  state_ = RestartState::kDraining;
  deadline_ms_ = now_ms + timeouts_.drain_ms;
  return extra | action::kStopAccepting;
}

uint32_t RestartMachine::finish_drain(uint32_t extra) {
  state_ = RestartState::kDone;
  deadline_ms_ = -1;
  bool reexec = leader_ && mode_ == Mode::kExec;
  return extra | (reexec ? action::kReExec : action::kExit);
}

uint32_t RestartMachine::back_to_serving(uint32_t extra) {
  state_ = RestartState::kServing;
  deadline_ms_ = -1;
  leader_ = false;
  return extra | action::kReleaseToken;
}

uint32_t RestartMachine::on(RestartEvent event, int64_t now_ms) {
  switch (state_) {
    case RestartState::kServing:
      if (event == RestartEvent::kRestartSignal) return start(now_ms);
      if (event == RestartEvent::kDrainRequested) return drain(now_ms, 0);
      break;
    case RestartState::kStarting:
      switch (event) {
        case RestartEvent::kRestartSignal:
          return action::kOweRestart;
        case RestartEvent::kNewReady:
          return drain(now_ms, action::kAnnounceDrain);
        case RestartEvent::kNewFailed:
          return back_to_serving(0);
        case RestartEvent::kStartTimeout:
          return back_to_serving(action::kKillNew);
        case RestartEvent::kDrainRequested:
          return drain(now_ms, action::kKillNew);
        default:
          break;
      }
      break;
    case RestartState::kDraining:
      // The exec leader's next image serves next: the follow-up is its.
      if (event == RestartEvent::kRestartSignal && leader_ &&
          mode_ == Mode::kExec)
        return action::kOweRestart;
      if (event == RestartEvent::kDrained) return finish_drain(0);
      if (event == RestartEvent::kDrainTimeout)
        return finish_drain(action::kCloseConns);
      break;
    case RestartState::kDone:
      if (leader_ && mode_ == Mode::kExec) {
        if (event == RestartEvent::kRestartSignal) return action::kOweRestart;
        if (event == RestartEvent::kExecFailed)
          return back_to_serving(action::kResumeAccepting);
      }
      break;
  }
  return action::kIgnored;
}

const char* state_name(RestartState state) {
  switch (state) {
    case RestartState::kServing:
      return "serving";
    case RestartState::kStarting:
      return "starting";
    case RestartState::kDraining:
      return "draining";
    case RestartState::kDone:
      return "done";
  }
  return "?";
}

const char* event_name(RestartEvent event) {
  switch (event) {
    case RestartEvent::kRestartSignal:
      return "restart signal";
    case RestartEvent::kNewReady:
      return "new copy ready";
    case RestartEvent::kNewFailed:
      return "new copy failed";
    case RestartEvent::kStartTimeout:
      return "start timeout";
    case RestartEvent::kDrainRequested:
      return "drain requested";
    case RestartEvent::kDrained:
      return "drained";
    case RestartEvent::kDrainTimeout:
      return "drain timeout";
    case RestartEvent::kExecFailed:
      return "exec failed";
  }
  return "?";
}

}  // namespace huptime
