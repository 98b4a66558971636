// tests/helpers/load_stats: when a served version counts as going back.
#include "load_stats.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

using namespace huptime::test;
using std::chrono::milliseconds;

namespace {

const Clock::time_point t0 = Clock::now();

// A successful request that started and ended at these milliseconds.
RequestResult answer(const std::string& body, int start_ms, int end_ms) {
  RequestResult r;
  r.body = body;
  r.start = t0 + milliseconds(start_ms);
  r.end = t0 + milliseconds(end_ms);
  return r;
}

}  // namespace

TEST_CASE("an old answer to a request sent after a new one is backwards") {
  LoadStats stats(true, t0);
  stats.record(answer("v0", 0, 1));
  stats.record(answer("v1", 2, 5));
  stats.record(answer("v1", 6, 7));
  CHECK(stats.backwards == 0);
  stats.record(answer("v0", 6, 8));
  CHECK(stats.backwards == 1);
}

TEST_CASE("a request in flight when the new version answered may get either") {
  LoadStats stats(true, t0);
  stats.record(answer("v0", 0, 1));
  stats.record(answer("v1", 2, 5));
  stats.record(answer("v0", 3, 9));
  CHECK(stats.backwards == 0);
}

// Seen in supervise/handoff-order under two CPU hogs: the load client began
// while the first restart ran, and its first answer of the old version came
// after the new one's. Ranked by first completion, the old version counted
// as the newest and every later answer of the new one as going back.
TEST_CASE("an old version first seen late still ranks as the older") {
  LoadStats stats(true, t0);
  stats.record(answer("v1", 5, 10));
  stats.record(answer("v0", 0, 22));
  stats.record(answer("v1", 25, 30));
  stats.record(answer("v1", 31, 32));
  CHECK(stats.backwards == 0);
  REQUIRE(stats.bodies.size() == 2);
  CHECK(stats.bodies[0].key == "v0");
  CHECK(stats.bodies[1].key == "v1");
  CHECK(stats.bodies[0].count == 1);
  CHECK(stats.bodies[1].count == 3);
  // And the old one is still caught going back after that.
  stats.record(answer("v0", 33, 34));
  CHECK(stats.backwards == 1);
}
