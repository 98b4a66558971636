// Watches a load run from a thread of its own and records the longest time
// without a successful response: "the service kept answering" as a number.
#pragma once

#include <atomic>
#include <thread>

#include "load.h"

namespace huptime::test {

class GapMonitor {
 public:
  explicit GapMonitor(const LoadRun& load);
  ~GapMonitor();  // stops
  GapMonitor(const GapMonitor&) = delete;
  GapMonitor& operator=(const GapMonitor&) = delete;

  // Stops watching; returns the longest gap between two successes (or
  // between the start and the first success, or the last one and now), ms.
  double stop();

 private:
  void run();

  const LoadRun& load_;
  std::atomic<bool> stop_{false};
  Clock::time_point last_;
  uint64_t last_ok_ = 0;
  double longest_ms_ = 0;
  std::thread thread_;
};

}  // namespace huptime::test
