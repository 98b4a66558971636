// lib/restart_machine: states × events → actions, for both modes.
//
// The transition table is checked exhaustively: every reachable
// configuration (state, leader) of each mode is built by a path of
// events from a fresh machine, then every event is applied to it. kTable
// lists the transitions that do something; every pair it does not list must
// be ignored (action::kIgnored, nothing changed).
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "restart_machine.h"

using namespace huptime;
using namespace huptime::action;

namespace {

using S = RestartState;
using E = RestartEvent;

constexpr RestartTimeouts kTimeouts{.start_ms = 700, .drain_ms = 300};
constexpr int64_t kPathTime = 1000;  // when the path's events are applied
constexpr int64_t kNow = 5000;       // when the event under test is

const E kAllEvents[] = {E::kRestartSignal, E::kNewReady,       E::kNewFailed,
                        E::kStartTimeout,  E::kDrainRequested, E::kDrained,
                        E::kDrainTimeout,  E::kExecFailed};

// A reachable configuration and the events that lead there.
struct Path {
  const char* name;
  Mode mode;
  std::vector<E> events;
  S state;
  bool leader;
};

// The tables in this file keep one row per line, wider than 80 columns, so
// that they read as tables.
// clang-format off
const Path kPaths[] = {
    {"serving",          Mode::kFork, {},                                              S::kServing,  false},
    {"starting",         Mode::kFork, {E::kRestartSignal},                             S::kStarting, true},
    {"draining leader",  Mode::kFork, {E::kRestartSignal, E::kNewReady},               S::kDraining, true},
    {"draining sibling", Mode::kFork, {E::kDrainRequested},                            S::kDraining, false},
    {"draining killed",  Mode::kFork, {E::kRestartSignal, E::kDrainRequested},         S::kDraining, true},
    {"done leader",      Mode::kFork, {E::kRestartSignal, E::kNewReady, E::kDrained},  S::kDone,     true},
    {"done sibling",     Mode::kFork, {E::kDrainRequested, E::kDrained},               S::kDone,     false},
    // Exec mode never starts a copy next to itself: no kStarting.
    {"serving",          Mode::kExec, {},                                              S::kServing,  false},
    {"draining leader",  Mode::kExec, {E::kRestartSignal},                             S::kDraining, true},
    {"draining sibling", Mode::kExec, {E::kDrainRequested},                            S::kDraining, false},
    {"done leader",      Mode::kExec, {E::kRestartSignal, E::kDrained},                S::kDone,     true},
    {"done sibling",     Mode::kExec, {E::kDrainRequested, E::kDrained},               S::kDone,     false},
};
// clang-format on

enum class Deadline { kUnchanged, kNone, kStart, kDrain };

struct Transition {
  Mode mode;
  const char* path;
  E event;
  S state;
  uint32_t actions;
  bool leader;
  Deadline deadline;
};

constexpr Mode F = Mode::kFork;
constexpr Mode X = Mode::kExec;
using D = Deadline;

// clang-format off
const Transition kTable[] = {
    // fork mode
    {F, "serving",          E::kRestartSignal,  S::kStarting, kSpawn,                            true, D::kStart},
    {F, "serving",          E::kDrainRequested, S::kDraining, kStopAccepting,                    false, D::kDrain},
    {F, "starting",         E::kRestartSignal,  S::kStarting, kOweRestart,                       true,  D::kUnchanged},
    {F, "starting",         E::kNewReady,       S::kDraining, kAnnounceDrain | kStopAccepting,   true, D::kDrain},
    {F, "starting",         E::kNewFailed,      S::kServing,  kReleaseToken,                     false, D::kNone},
    {F, "starting",         E::kStartTimeout,   S::kServing,  kKillNew | kReleaseToken,          false, D::kNone},
    {F, "starting",         E::kDrainRequested, S::kDraining, kKillNew | kStopAccepting,         true, D::kDrain},
    {F, "draining leader",  E::kDrained,        S::kDone,     kExit,                             true, D::kNone},
    {F, "draining leader",  E::kDrainTimeout,   S::kDone,     kCloseConns | kExit,               true, D::kNone},
    {F, "draining sibling", E::kDrained,        S::kDone,     kExit,                             false, D::kNone},
    {F, "draining sibling", E::kDrainTimeout,   S::kDone,     kCloseConns | kExit,               false, D::kNone},
    {F, "draining killed",  E::kDrained,        S::kDone,     kExit,                             true, D::kNone},
    {F, "draining killed",  E::kDrainTimeout,   S::kDone,     kCloseConns | kExit,               true, D::kNone},
    // exec mode
    {X, "serving",          E::kRestartSignal,  S::kDraining, kAnnounceDrain | kStopAccepting,   true, D::kDrain},
    {X, "serving",          E::kDrainRequested, S::kDraining, kStopAccepting,                    false, D::kDrain},
    {X, "draining leader",  E::kRestartSignal,  S::kDraining, kOweRestart,                       true,  D::kUnchanged},
    {X, "draining leader",  E::kDrained,        S::kDone,     kReExec,                           true, D::kNone},
    {X, "draining leader",  E::kDrainTimeout,   S::kDone,     kCloseConns | kReExec,             true, D::kNone},
    {X, "draining sibling", E::kDrained,        S::kDone,     kExit,                             false, D::kNone},
    {X, "draining sibling", E::kDrainTimeout,   S::kDone,     kCloseConns | kExit,               false, D::kNone},
    {X, "done leader",      E::kRestartSignal,  S::kDone,     kOweRestart,                       true,  D::kUnchanged},
    {X, "done leader",      E::kExecFailed,     S::kServing,  kResumeAccepting | kReleaseToken,  false, D::kNone},
};

// Transitions whose expected outcome differs from today's lib (see the
//  test below); the exhaustive test leaves them out.
const Transition kDisputed[] = {
    // A fork-mode leader in kDone was told kExit; "exec failed" cannot
    // apply to it and must not bring it back to serving.
    {F, "done leader",      E::kExecFailed,     S::kDone,     kIgnored,                          true, D::kUnchanged},
};
// clang-format on

RestartMachine build(const Path& path) {
  RestartMachine m(path.mode, kTimeouts);
  for (E event : path.events) {
    uint32_t actions = m.on(event, kPathTime);
    REQUIRE((actions & kIgnored) == 0);
  }
  REQUIRE(m.state() == path.state);
  REQUIRE(m.leader() == path.leader);
  return m;
}

const Transition* find(const Transition* begin, const Transition* end,
                       const Path& path, E event) {
  for (const Transition* t = begin; t != end; ++t)
    if (t->mode == path.mode && std::string(t->path) == path.name &&
        t->event == event)
      return t;
  return nullptr;
}

void check_transition(const Path& path, const Transition& t) {
  RestartMachine m = build(path);
  int64_t before = m.deadline_ms();
  INFO(mode_name(path.mode)
       << " / " << path.name << " / " << event_name(t.event));
  CHECK(m.on(t.event, kNow) == t.actions);
  CHECK(state_name(m.state()) == std::string(state_name(t.state)));
  CHECK(m.leader() == t.leader);
  int64_t expected = before;
  if (t.deadline == D::kNone) expected = -1;
  if (t.deadline == D::kStart) expected = kNow + kTimeouts.start_ms;
  if (t.deadline == D::kDrain) expected = kNow + kTimeouts.drain_ms;
  CHECK(m.deadline_ms() == expected);
}

}  // namespace

TEST_CASE("restart_machine: the whole transition table", "[restart]") {
  std::set<const Transition*> used;
  for (const Path& path : kPaths) {
    for (E event : kAllEvents) {
      if (find(std::begin(kDisputed), std::end(kDisputed), path, event))
        continue;
      const Transition* t =
          find(std::begin(kTable), std::end(kTable), path, event);
      if (t) {
        used.insert(t);
        check_transition(path, *t);
      } else {
        check_transition(path, {path.mode, path.name, event, path.state,
                                kIgnored, path.leader, D::kUnchanged});
      }
    }
  }
  CHECK(used.size() == std::size(kTable));  // no row names a missing path
}

TEST_CASE("restart_machine: exec failure after a fork-mode exit", "[restart]") {
  for (const Transition& t : kDisputed)
    for (const Path& path : kPaths)
      if (path.mode == t.mode && std::string(path.name) == t.path)
        check_transition(path, t);
}

TEST_CASE("restart_machine: a fresh machine", "[restart]") {
  for (Mode mode : {Mode::kFork, Mode::kExec}) {
    RestartMachine m(mode, RestartTimeouts{});
    CHECK(m.state() == S::kServing);
    CHECK_FALSE(m.leader());
    CHECK(m.deadline_ms() == -1);
  }
  RestartTimeouts defaults;
  CHECK(defaults.start_ms == 60'000);
  CHECK(defaults.drain_ms == 30'000);
}

TEST_CASE("restart_machine: deadlines", "[restart]") {
  RestartMachine m(Mode::kFork, kTimeouts);
  m.on(E::kRestartSignal, 100);
  CHECK(m.deadline_ms() == 100 + 700);
  CHECK(m.deadline_event() == E::kStartTimeout);
  m.on(E::kRestartSignal, 400);  // coalesced: the deadline does not move
  CHECK(m.deadline_ms() == 800);
  m.on(E::kNewReady, 500);
  CHECK(m.deadline_ms() == 500 + 300);
  CHECK(m.deadline_event() == E::kDrainTimeout);
  CHECK(m.on(m.deadline_event(), 800) == (kCloseConns | kExit));
  CHECK(m.deadline_ms() == -1);

  RestartMachine timed_out(Mode::kFork, kTimeouts);
  timed_out.on(E::kRestartSignal, 0);
  CHECK(timed_out.on(timed_out.deadline_event(), 700) ==
        (kKillNew | kReleaseToken));
  CHECK(timed_out.state() == S::kServing);
  CHECK(timed_out.deadline_ms() == -1);

  RestartMachine exec(Mode::kExec, kTimeouts);
  exec.on(E::kRestartSignal, 50);
  CHECK(exec.deadline_ms() == 50 + 300);
  CHECK(exec.deadline_event() == E::kDrainTimeout);
}

TEST_CASE("restart_machine: signals during an upgrade are owed, not run",
          "[restart]") {
  RestartMachine m(Mode::kFork, kTimeouts);
  CHECK(m.on(E::kRestartSignal, 0) == kSpawn);
  // Each one is owed (the service page coalesces them); none starts a
  // second copy beside the first.
  for (int i = 0; i < 5; ++i)
    CHECK(m.on(E::kRestartSignal, 10 + i) == kOweRestart);
  CHECK(m.deadline_ms() == 700);
  // A failure goes back to serving; restart.cc then starts what is owed.
  CHECK(m.on(E::kNewFailed, 100) == kReleaseToken);
  CHECK(m.state() == S::kServing);
  CHECK_FALSE(m.leader());
  CHECK(m.on(E::kRestartSignal, 101) == kSpawn);

  // Once ready, the old generation has nothing more to do with restarts.
  RestartMachine ready(Mode::kFork, kTimeouts);
  ready.on(E::kRestartSignal, 0);
  CHECK(ready.on(E::kNewReady, 2) == (kAnnounceDrain | kStopAccepting));
  CHECK(ready.on(E::kRestartSignal, 3) == kIgnored);
  CHECK(ready.on(E::kDrained, 4) == kExit);
  CHECK(ready.on(E::kRestartSignal, 5) == kIgnored);
}

TEST_CASE("restart_machine: exec mode resumes after a failed exec",
          "[restart]") {
  RestartMachine m(Mode::kExec, kTimeouts);
  CHECK(m.on(E::kRestartSignal, 0) == (kAnnounceDrain | kStopAccepting));
  CHECK(m.leader());
  // Owed to the next image: it restarts once more after it is ready.
  CHECK(m.on(E::kRestartSignal, 1) == kOweRestart);
  CHECK(m.on(E::kDrained, 2) == kReExec);
  CHECK(m.on(E::kExecFailed, 3) == (kResumeAccepting | kReleaseToken));
  CHECK(m.state() == S::kServing);
  CHECK_FALSE(m.leader());
  CHECK(m.deadline_ms() == -1);
  // And a later restart goes through as the first one did.
  CHECK(m.on(E::kRestartSignal, 10) == (kAnnounceDrain | kStopAccepting));
  CHECK(m.deadline_ms() == 10 + 300);
  CHECK(m.on(E::kDrainTimeout, 310) == (kCloseConns | kReExec));
  CHECK(m.on(E::kExecFailed, 311) == (kResumeAccepting | kReleaseToken));
  // A second failure report for the same exec has nothing to undo.
  CHECK(m.on(E::kExecFailed, 312) == kIgnored);
}

TEST_CASE("restart_machine: names", "[restart]") {
  std::set<std::string> names;
  for (S s : {S::kServing, S::kStarting, S::kDraining, S::kDone})
    names.insert(state_name(s));
  CHECK(names ==
        std::set<std::string>{"serving", "starting", "draining", "done"});
  names.clear();
  for (E e : kAllEvents) {
    std::string name = event_name(e);
    CHECK(name != "?");
    names.insert(name);
  }
  CHECK(names.size() == std::size(kAllEvents));
  CHECK(std::string(state_name(static_cast<S>(42))) == "?");
  CHECK(std::string(event_name(static_cast<E>(42))) == "?");
}
