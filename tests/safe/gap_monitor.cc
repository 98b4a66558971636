#include "gap_monitor.h"

#include <poll.h>

#include <algorithm>

namespace huptime::test {

GapMonitor::GapMonitor(const LoadRun& load)
    : load_(load), last_(Clock::now()), last_ok_(load.snapshot().ok) {
  thread_ = std::thread(&GapMonitor::run, this);
}

GapMonitor::~GapMonitor() { stop(); }

// The predicate runs under the load's lock after every request; it only
// notes when the success count moved.
void GapMonitor::run() {
  while (!stop_) {
    load_.wait_until(
        [this](const LoadStats& stats) {
          if (stats.ok != last_ok_) {
            Clock::time_point now = Clock::now();
            longest_ms_ = std::max(longest_ms_, ms_between(last_, now));
            last_ = now;
            last_ok_ = stats.ok;
          }
          return stop_.load();
        },
        Deadline(std::chrono::milliseconds(100)));
    pollfd done{load_.done_fd(), POLLIN, 0};
    if (poll(&done, 1, 0) > 0) break;  // every client has finished
  }
}

double GapMonitor::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
    longest_ms_ = std::max(longest_ms_, ms_between(last_, Clock::now()));
  }
  return longest_ms_;
}

}  // namespace huptime::test
