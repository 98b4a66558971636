// What `huptime --help` and `huptime --version` print.
#pragma once

#include <string>
#include <string_view>

namespace huptime {

// The full --help text, ending in a newline.
std::string_view help_text();

// "huptime VERSION\n".
std::string version_text();

}  // namespace huptime
