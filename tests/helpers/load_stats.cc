#include "load_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace huptime::test {
namespace {

std::string_view body_key(std::string_view body) {
  return body.substr(0, kBodyKeyBytes);
}

}  // namespace

int LoadStats::body_index(std::string_view body) const {
  std::string_view key = body_key(body);
  for (size_t i = 0; i < bodies.size(); ++i)
    if (bodies[i].key == key) return static_cast<int>(i);
  return -1;
}

void LoadStats::record(const RequestResult& result) {
  ++requests;
  ++by_outcome[static_cast<size_t>(result.outcome)];
  if (result.outcome != Outcome::kOk) {
    ++failed;
    if (error_samples.size() < kMaxSamples)
      error_samples.push_back(
          fmt::format("{} at {:.1f} ms: {}", outcome_name(result.outcome),
                      ms_between(origin, result.start), result.error));
    return;
  }
  ++ok;
  latency.add(result.end - result.start);
  size_t index = note_body(result);
  check_stale(result);
  if (expect_monotonic) check_monotonic(result, index);
}

// Counts the body and keeps `bodies` ranked; returns the body's index.
size_t LoadStats::note_body(const RequestResult& result) {
  int found = body_index(result.body);
  if (found < 0) {
    bodies.push_back(
        {std::string(body_key(result.body)), 0, result.start, result.end});
    found = static_cast<int>(bodies.size()) - 1;
  }
  auto index = static_cast<size_t>(found);
  BodySeen& seen = bodies[index];
  ++seen.count;
  seen.first_completed = std::min(seen.first_completed, result.end);
  if (seen.count > 1 && result.start >= seen.first_started) return index;
  Clock::time_point started = std::min(seen.first_started, result.start);
  seen.first_started = started;
  // Moves up past the bodies whose earliest request started later.
  for (; index > 0 && bodies[index - 1].first_started > started; --index)
    std::swap(bodies[index - 1], bodies[index]);
  return index;
}

void LoadStats::mark_stale(std::string_view body, Clock::time_point since) {
  stale_since.emplace_back(std::string(body_key(body)), since);
}

void LoadStats::check_monotonic(const RequestResult& result, size_t index) {
  for (size_t newer = index + 1; newer < bodies.size(); ++newer) {
    if (bodies[newer].first_completed > result.start) continue;
    ++backwards;
    if (backwards_samples.size() < kMaxSamples)
      backwards_samples.push_back(fmt::format(
          "'{}' returned to a request started at {:.1f} ms, after '{}' had "
          "answered at {:.1f} ms",
          escape_first_line(result.body), ms_between(origin, result.start),
          escape_first_line(bodies[newer].key),
          ms_between(origin, bodies[newer].first_completed)));
    return;
  }
}

void LoadStats::check_stale(const RequestResult& result) {
  std::string_view key = body_key(result.body);
  for (const auto& [stale_key, since] : stale_since) {
    if (stale_key != key || result.start <= since) continue;
    ++stale;
    if (stale_samples.size() < kMaxSamples)
      stale_samples.push_back(fmt::format(
          "'{}' returned to a request started at {:.1f} ms, stale since "
          "{:.1f} ms",
          escape_first_line(result.body), ms_between(origin, result.start),
          ms_between(origin, since)));
    return;
  }
}

std::string format_summary(const LoadStats& stats) {
  std::string out = fmt::format(
      "requests={} ok={} failed={} refused={} reset={} eof={} timeout={} "
      "badstatus={} p50_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} backwards={}\n",
      stats.requests, stats.ok, stats.failed, stats.count(Outcome::kRefused),
      stats.count(Outcome::kReset), stats.count(Outcome::kEof),
      stats.count(Outcome::kTimeout), stats.count(Outcome::kBadStatus),
      stats.latency.percentile_ms(50), stats.latency.percentile_ms(99),
      stats.latency.max_ms(), stats.backwards);
  for (size_t i = 0; i < stats.bodies.size(); ++i)
    out += fmt::format("body[{}]={} count={}\n", i,
                       escape_first_line(stats.bodies[i].key),
                       stats.bodies[i].count);
  return out;
}

std::string escape_first_line(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, body.find('\n'))) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", byte);
    else
      out += c;
  }
  return out;
}

}  // namespace huptime::test
