// The environment COMMAND is started with (the contract is lib/config.h).
//
// Pure string work: main.cc gathers the inputs (environ, the library path,
// the LaunchConfig) and execs with the result.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace huptime {

// LD_PRELOAD's new value: `library` first, then the entries of `existing`
// (may be null) in order. Entries are separated by ':' or ' ', as the loader
// reads them; empty entries and any entry whose file name is libhuptime.so
// are dropped, so the library is never loaded twice.
std::string build_ld_preload(std::string_view library, const char* existing);

// `current` (NAME=VALUE strings, as in environ) with LD_PRELOAD replaced,
// every variable of the launcher→library contract removed (a stale
// HUPTIME_FDS or HUPTIME_LOG must not leak through), and the encoding of
// `config` added. Other variables keep their order.
std::vector<std::string> build_launch_environment(
    const std::vector<std::string>& current, std::string_view library,
    const LaunchConfig& config);

}  // namespace huptime
