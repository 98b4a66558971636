// The library is built with hidden visibility; only the hooks are exported.
// Hidden visibility would silently win over the version script, so every
// hook says so explicitly.
#pragma once

#define HUPTIME_EXPORT extern "C" __attribute__((visibility("default")))
