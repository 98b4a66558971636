// What a load run observed: counts per outcome, latency of successful
// requests, the distinct bodies in order of rank (below) and, with
// --expect-monotonic, how often the served version went backwards.
//
// "Backwards": bodies are ranked by the start of the earliest request each
// answered. A successful response with body rank r whose request *started*
// after a response with a higher rank had already *completed* is a
// violation: once a newer version has answered, requests sent later must
// never get an older one. Requests that overlap the first answer of a new
// version may get either, which is not a violation. (Ranked by the first
// answer seen complete instead, an old version first seen on a slow answer,
// when the load began during a restart, ranked as the newest: every later
// answer of the real new version then counted as going back.)
//
// "Stale": a looser check anchored on what the service says rather than on
// what the client saw first. The driver marks a body stale from a moment on
// (for example when the old copy has announced that it no longer accepts);
// a successful response with that body to a request started after that
// moment counts as stale.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_request.h"
#include "latency.h"

namespace huptime::test {

inline constexpr size_t kBodyKeyBytes = 64;
inline constexpr size_t kMaxSamples = 10;

struct BodySeen {
  std::string key;  // the body, truncated to kBodyKeyBytes
  uint64_t count = 0;
  Clock::time_point first_started;  // of the requests it answered
  Clock::time_point first_completed;
};

struct LoadStats {
  explicit LoadStats(bool monotonic = false,
                     Clock::time_point t0 = Clock::now())
      : expect_monotonic(monotonic), origin(t0) {}

  void record(const RequestResult& result);
  // Responses with `body` to requests started after `since` are stale.
  void mark_stale(std::string_view body, Clock::time_point since);

  uint64_t count(Outcome outcome) const {
    return by_outcome[static_cast<size_t>(outcome)];
  }
  // Index of the body in `bodies`, or -1 if never seen.
  int body_index(std::string_view body) const;

  bool expect_monotonic;
  Clock::time_point origin;  // for times in samples
  uint64_t requests = 0;
  uint64_t ok = 0;
  uint64_t failed = 0;
  std::array<uint64_t, kOutcomeCount> by_outcome{};
  LatencyHistogram latency;      // successful requests only
  std::vector<BodySeen> bodies;  // by rank: first_started
  uint64_t backwards = 0;
  std::vector<std::pair<std::string, Clock::time_point>> stale_since;
  uint64_t stale = 0;
  std::vector<std::string> error_samples;      // first failures, explained
  std::vector<std::string> backwards_samples;  // first violations, explained
  std::vector<std::string> stale_samples;      // first stale answers

 private:
  size_t note_body(const RequestResult& result);
  void check_monotonic(const RequestResult& result, size_t index);
  void check_stale(const RequestResult& result);
};

// The summary line and one line per distinct body, each ending in '\n':
//   requests=N ok=N failed=N refused=N reset=N eof=N timeout=N badstatus=N
//   p50_ms=X p99_ms=X max_ms=X backwards=N
//   body[i]=<escaped first line> count=N
std::string format_summary(const LoadStats& stats);

// The first line of `body` (without the newline), non-printable bytes and
// backslashes escaped as \xNN.
std::string escape_first_line(std::string_view body);

}  // namespace huptime::test
