// Encoding of string lists inside one environment variable.
//
// A list is a sequence of netstrings: "<len>:<bytes>," repeated, so any byte
// but NUL can appear in an element (argv elements, file names) and decoding
// never needs escapes. Shared by the launcher, which writes the variables,
// and the library, which reads them back in every generation.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace huptime {

std::string encode_list(const std::vector<std::string>& items);

// Returns nullopt for anything that is not a well-formed list (bad length,
// missing ':' or ',', trailing bytes, more than max_items elements).
std::optional<std::vector<std::string>> decode_list(std::string_view text,
                                                    size_t max_items = 4096);

}  // namespace huptime
