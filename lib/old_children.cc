#include "old_children.h"

#include <charconv>

namespace huptime {

namespace {

template <typename T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits off the text before `sep` (or all of it).
std::string_view take(std::string_view* rest, char sep) {
  size_t at = rest->find(sep);
  std::string_view head = rest->substr(0, at);
  rest->remove_prefix(at == std::string_view::npos ? rest->size() : at + 1);
  return head;
}

}  // namespace

std::optional<StatFields> parse_proc_stat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos || paren + 1 >= text.size() ||
      text[paren + 1] != ' ')
    return std::nullopt;
  std::string_view rest = text.substr(paren + 2);
  // Fields 3 (state) to 22, one space apart.
  StatFields out;
  for (int field = 3; field <= 22; ++field) {
    if (rest.empty()) return std::nullopt;
    std::string_view value = take(&rest, ' ');
    if (field == 4 && !parse_number(value, &out.ppid)) return std::nullopt;
    if (field == 22 && !parse_number(value, &out.start_time))
      return std::nullopt;
  }
  return out;
}

}  // namespace huptime
