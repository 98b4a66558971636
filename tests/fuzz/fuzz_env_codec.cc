// HUPTIME_ARGV and HUPTIME_UNLINK (lib/env_codec.h), which the library
// decodes in every generation. The netstring encoding has exactly one
// spelling per list, so decoding and re-encoding gives back the input; and
// any list (here: the input cut at NUL bytes and at '|') survives encoding.
#include "env_codec.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = huptime::fuzz::as_text(data, size);

  auto items = huptime::decode_list(text);
  if (items) FUZZ_CHECK(huptime::encode_list(*items) == text);

  // A small item limit is honoured.
  auto limited = huptime::decode_list(text, 2);
  if (limited) FUZZ_CHECK(limited->size() <= 2 && items && *items == *limited);
  if (items && items->size() <= 2) FUZZ_CHECK(limited.has_value());

  std::vector<std::string> list;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '|') {
      list.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  auto back = huptime::decode_list(huptime::encode_list(list));
  FUZZ_CHECK(back && *back == list);
  return 0;
}
