// Pointers to the real libc functions behind our hooks, generated from
// hooks.def and resolved once with dlsym(RTLD_NEXT).
#pragma once

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

namespace huptime::real {

#define HUPTIME_HOOK(ret, name, params, required) extern ret(*name) params;
#include "hooks.def"
#undef HUPTIME_HOOK

// Resolves every pointer. Missing optional functions stay null; a missing
// required one, or one that resolves to our own hook, is logged and left
// null (the hook then fails with ENOSYS). Not thread-safe: called under
// pthread_once from init.cc.
void resolve_all();

}  // namespace huptime::real
