// One request of the load client, from connect to EOF, judged.
#pragma once

#include <string>
#include <string_view>

#include "deadline.h"
#include "protocol.h"
#include "sockspec.h"

namespace huptime::test {

// What became of a request. Every kind but kOk is a failure.
enum class Outcome {
  kOk,
  kRefused,    // connect failed: ECONNREFUSED, ENOENT, EAGAIN... (any errno)
  kReset,      // send or receive failed: ECONNRESET, EPIPE...
  kEof,        // EOF before a complete response
  kTimeout,    // the per-request deadline passed
  kBadStatus,  // a complete response that is not a 200 with a right length
};
inline constexpr int kOutcomeCount = 6;

const char* outcome_name(Outcome outcome);

struct RequestResult {
  Outcome outcome = Outcome::kOk;
  std::string body;         // for kOk
  std::string error;        // for the other outcomes: what happened, for humans
  Clock::time_point start;  // before connect
  Clock::time_point end;    // after EOF, or at the failure
};

// Connects to `target` (blocking connect bounded by SO_SNDTIMEO), sends
// `request`, reads to EOF with poll(2) deadlines and judges the response
// as `protocol` says. The whole request is bounded by `timeout`.
RequestResult run_request(const SockSpec& target, std::string_view request,
                          Clock::duration timeout,
                          Protocol protocol = Protocol::kHttp);

}  // namespace huptime::test
