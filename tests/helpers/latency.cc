#include "latency.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace huptime::test {
namespace {

constexpr uint64_t kLinear = 1024;  // exact buckets below this (µs)
constexpr uint64_t kSubBuckets = 512;
constexpr uint64_t kMaxMicros = uint64_t{1} << 40;

}  // namespace

size_t LatencyHistogram::bucket_of(uint64_t micros) {
  micros = std::min(micros, kMaxMicros - 1);
  if (micros < kLinear) return micros;
  int shift =
      std::bit_width(micros) - 10;  // >= 1; micros >> shift in [512, 1024)
  return kLinear + static_cast<size_t>(shift - 1) * kSubBuckets +
         ((micros >> shift) - kSubBuckets);
}

uint64_t LatencyHistogram::bucket_upper_us(size_t bucket) {
  if (bucket < kLinear) return bucket;
  size_t offset = bucket - kLinear;
  int shift = static_cast<int>(offset / kSubBuckets) + 1;
  uint64_t sub = kSubBuckets + offset % kSubBuckets;
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::add(Clock::duration latency) {
  auto micros = static_cast<uint64_t>(std::max<int64_t>(
      0,
      std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
  size_t bucket = bucket_of(micros);
  if (buckets_.size() <= bucket) buckets_.resize(bucket + 1);
  ++buckets_[bucket];
  ++count_;
  max_us_ = std::max(max_us_, micros);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (buckets_.size() < other.buckets_.size())
    buckets_.resize(other.buckets_.size());
  for (size_t i = 0; i < other.buckets_.size(); ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
}

double LatencyHistogram::percentile_ms(double percent) const {
  if (count_ == 0) return 0.0;
  auto rank = static_cast<uint64_t>(
      std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return static_cast<double>(std::min(bucket_upper_us(i), max_us_)) /
             1000.0;
  }
  return max_ms();
}

}  // namespace huptime::test
