// lib/old_children: telling the previous image's children by /proc/PID/stat.
#include <catch2/catch.hpp>
#include <string>

#include "old_children.h"

using namespace huptime;

TEST_CASE("parent and start time come from /proc/PID/stat") {
  // A command name with spaces and parentheses, as a program may set.
  std::string stat =
      "4242 (gunicorn: (worker) x) S 4200 4200 4200 0 -1 4194624 1000 0 0 0 "
      "12 3 0 0 20 0 1 0 987654 123456789 2000 18446744073709551615 1 1 0 0 "
      "0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  auto fields = parse_proc_stat(stat);
  REQUIRE(fields);
  CHECK(fields->ppid == 4200);
  CHECK(fields->start_time == 987654);
}

TEST_CASE("a zombie's stat line parses the same") {
  auto fields = parse_proc_stat(
      "780 (gunicorn) Z 661 661 661 0 -1 4227148 600 0 0 0 5 1 0 0 20 0 1 0 "
      "31337 0 0 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 "
      "0 0 0 0 0 0 0 0 0 9");
  REQUIRE(fields);
  CHECK(fields->ppid == 661);
  CHECK(fields->start_time == 31337);
}

TEST_CASE("a truncated or odd stat line is rejected") {
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("4242 (x"));
  CHECK_FALSE(parse_proc_stat("4242 (x) S 4200 4200"));
  CHECK_FALSE(parse_proc_stat("4242 (x)S 4200"));
  CHECK_FALSE(parse_proc_stat(
      "4242 (x) S abc 4200 4200 0 -1 4194624 1000 0 0 0 12 3 0 0 20 0 1 0 "
      "987654 1"));
  CHECK_FALSE(parse_proc_stat(
      "4242 (x) S 1 4200 4200 0 -1 4194624 1000 0 0 0 12 3 0 0 20 0 1 0 "
      "-5 1"));
}
