// Deadlines for bounded waits in the test helpers and the integration driver.
//
// Every wait in the tests is "until an event, or until this deadline", so
// the remaining time has to be turned into poll(2) timeouts over and over;
// this type does that in one place, rounding up so that a wait never ends
// a millisecond before its deadline and spins.
#pragma once

#include <algorithm>
#include <chrono>

namespace huptime::test {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(Clock::duration from_now) : at_(Clock::now() + from_now) {}
  static Deadline at(Clock::time_point when) {
    Deadline deadline(Clock::duration::zero());
    deadline.at_ = when;
    return deadline;
  }

  bool expired() const { return Clock::now() >= at_; }
  Clock::time_point when() const { return at_; }

  Clock::duration remaining() const {
    return std::max(at_ - Clock::now(), Clock::duration::zero());
  }

  // The remaining time as a poll(2) timeout in milliseconds, rounded up,
  // 0 once expired.
  int poll_ms() const {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(remaining());
    return static_cast<int>(std::min<long long>(left.count(), 1'000'000'000));
  }

  // Like poll_ms(), but at most `cap`: for waits that re-check a condition.
  int poll_ms(std::chrono::milliseconds cap) const {
    return std::min(poll_ms(), static_cast<int>(cap.count()));
  }

 private:
  Clock::time_point at_;
};

// Milliseconds between two points, as a double, for reports.
inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace huptime::test
