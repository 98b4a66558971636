#include "real.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>

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

// One hook's pointer, by address: resolution is one loop over a table
// rather than a call per hook inlined ~30 times (~7 KB of code that every
// process runs once at start-up, in its first 64 KiB of our text).
struct Slot {
  void* pointer;  // address of the ret(*)(params) pointer to fill
  const char* name;
  bool required;
};

void* resolve_one(const char* name, bool required) {
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
  return sym;
}

}  // namespace

void resolve_all() {
  static const Slot kSlots[] = {
#define HUPTIME_HOOK(ret, name, params, required) {&name, #name, required},
#include "hooks.def"
#undef HUPTIME_HOOK
  };
  for (const Slot& slot : kSlots) {
    void* sym = resolve_one(slot.name, slot.required);
    // A data pointer and a function pointer have the same size and
    // representation here (dlsym relies on it too); memcpy, not a cast
    // through void**, so that no object is accessed as the wrong type.
    static_assert(sizeof sym == sizeof(void (*)()));
    memcpy(slot.pointer, &sym, sizeof sym);
  }
}

}  // namespace huptime::real
