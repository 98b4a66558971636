// Library start-up, safe to reach from any hook at any time: other
// libraries' constructors may call our hooks before our own constructor.
#pragma once

namespace huptime {

// True once the library is initialised. False only on the thread that is
// initialising it right now (dlsym may call back into our hooks): the hook
// must then fall back to a raw system call.
bool ensure_init();

}  // namespace huptime
