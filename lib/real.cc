#include "real.h"

#include <dlfcn.h>

#include <cstdio>

namespace huptime::real {

#define HUPTIME_HOOK(ret, name, params, required) ret(*name) params = nullptr;
#include "hooks.def"
#undef HUPTIME_HOOK

namespace {

// Never logs through log.h: logging needs init, and init needs us.
void complain(const char* name, const char* what) {
  char buf[160];
  int n = snprintf(buf, sizeof buf, "huptime[%d]: libc function %s %s\n",
                   static_cast<int>(getpid()), name, what);
  if (n > 0) (void)::write(2, buf, static_cast<size_t>(n));
}

template <typename Fn>
void resolve_one(Fn*& slot, const char* name, bool required) {
  void* sym = dlsym(RTLD_NEXT, name);
  void* self = dlsym(RTLD_DEFAULT, name);
  Dl_info next_info{}, self_info{};
  // A hook that resolves to itself would recurse forever.
  if (sym != nullptr && sym == self && dladdr(sym, &next_info) &&
      dladdr(reinterpret_cast<void*>(&resolve_all), &self_info) &&
      next_info.dli_fbase == self_info.dli_fbase) {
    complain(name, "resolved to huptime itself");
    sym = nullptr;
  }
  if (sym == nullptr && required) complain(name, "not found");
  slot = reinterpret_cast<Fn*>(sym);
}

}  // namespace

void resolve_all() {
#define HUPTIME_HOOK(ret, name, params, required) \
  resolve_one(name, #name, required);
#include "hooks.def"
#undef HUPTIME_HOOK
}

}  // namespace huptime::real
