// What meson passes a Catch2 test in its environment (the launcher, the
// helper servers): a test run by hand without it fails with the name.
#pragma once

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

namespace huptime::test {

inline std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (!v) FAIL(name << " is not set (run through meson test)");
  return v;
}

}  // namespace huptime::test
