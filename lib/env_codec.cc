#include "env_codec.h"

#include <charconv>

namespace huptime {

std::string encode_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += std::to_string(item.size());
    out += ':';
    out += item;
    out += ',';
  }
  return out;
}

std::optional<std::vector<std::string>> decode_list(std::string_view text,
                                                    size_t max_items) {
  std::vector<std::string> items;
  while (!text.empty()) {
    if (items.size() >= max_items) return std::nullopt;
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 9)
      return std::nullopt;
    if (text[0] == '0' && colon > 1) return std::nullopt;  // no leading zeros
    size_t len = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + colon, len);
    if (ec != std::errc() || end != text.data() + colon) return std::nullopt;
    text.remove_prefix(colon + 1);
    if (text.size() < len + 1 || text[len] != ',') return std::nullopt;
    items.emplace_back(text.substr(0, len));
    text.remove_prefix(len + 1);
  }
  return items;
}

}  // namespace huptime
