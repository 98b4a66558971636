// Library start-up, safe to reach from any hook at any time: other
// libraries' constructors may call our hooks before our own constructor.
#pragma once

#include "runtime.h"

namespace huptime {

bool ensure_init_slow();

// True once the library is initialised. False only on the thread that is
// initialising it right now (dlsym may call back into our hooks): the hook
// must then fall back to a raw system call. Inline: every hook calls it,
// and once initialised it is one load.
inline bool ensure_init() {
  if (__builtin_expect(g_rt.ready.load(std::memory_order_acquire), 1))
    return true;
  return ensure_init_slow();
}

}  // namespace huptime
