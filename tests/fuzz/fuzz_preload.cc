// LD_PRELOAD as the program left it (lib/exec_image.h strip_preload), read
// at every exec of the service: the entries naming our library go, every
// other entry stays, in order; a too small buffer fails, never overflows.
#include <cstring>

#include "exec_image.h"
#include "fuzz_support.h"

namespace {

// The entries of a colon-separated list, empty ones dropped.
std::vector<std::string> entries(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i == list.size() || list[i] == ':' || list[i] == ' ') {
      if (i > start) out.emplace_back(list.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts = huptime::fuzz::split_nul(data, size);
  const std::string& value = parts[0];
  const char* lib = "/usr/lib/huptime/libhuptime.so";

  static char out[8192];
  std::memset(out, 'X', sizeof out);
  size_t cap = parts.size() > 1 ? parts[1].size() : sizeof out;
  if (cap > sizeof out) cap = sizeof out;
  if (!huptime::strip_preload(value.c_str(), lib, out, cap)) return 0;
  size_t len = strnlen(out, cap);
  FUZZ_CHECK(len < cap);
  for (size_t i = len + 1; i < sizeof out; ++i)
    if (i >= cap) FUZZ_CHECK(out[i] == 'X');
  // Exactly the input's entries whose file name is not libhuptime.so.
  std::vector<std::string> kept;
  for (const std::string& e : entries(value)) {
    size_t slash = e.rfind('/');
    std::string base = slash == std::string::npos ? e : e.substr(slash + 1);
    if (e != lib && base != "libhuptime.so") kept.push_back(e);
  }
  FUZZ_CHECK(entries(out) == kept);
  return 0;
}
