// What every libFuzzer target in tests/fuzz shares: an invariant check
// that aborts (so libFuzzer records a crash and saves the input), and the
// split of one input into several strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// Aborts with the failed condition when an invariant does not hold: a fuzz
// target that only checks "does not crash" misses wrong answers.
#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

namespace huptime::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each NUL byte: several strings from one input, the way
// argv and an environment hold them (none of them can contain a NUL).
inline std::vector<std::string> split_nul(const uint8_t* data, size_t size) {
  std::vector<std::string> parts;
  std::string_view text = as_text(data, size);
  while (true) {
    size_t nul = text.find('\0');
    parts.emplace_back(text.substr(0, nul));
    if (nul == std::string_view::npos) break;
    text.remove_prefix(nul + 1);
  }
  return parts;
}

}  // namespace huptime::fuzz
