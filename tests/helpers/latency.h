// A latency histogram with bounded memory for load runs of any length:
// exact to the microsecond below 1.024 ms, then 512 sub-buckets per power of
// two (under 0.2 % error), up to about 12 days.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "deadline.h"

namespace huptime::test {

class LatencyHistogram {
 public:
  void add(Clock::duration latency);
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // The latency at or below which `percent` % of the samples lie (upper
  // edge of its bucket, never above the maximum); 0 when empty.
  double percentile_ms(double percent) const;
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  static size_t bucket_of(uint64_t micros);
  static uint64_t bucket_upper_us(size_t bucket);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace huptime::test
