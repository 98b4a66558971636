#include "handoff_slice.h"

#include <sched.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>

#include "raw_syscall.h"

namespace huptime {

namespace {

constexpr uint64_t kShortSliceNs = 100'000;  // the kernel's minimum

// struct sched_attr up to sched_period (Linux 3.14); `size` tells the
// kernel that the clamp fields that follow are absent.
struct SchedAttr {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime;
  uint64_t deadline;
  uint64_t period;
};

// The calling thread's attributes, when it runs in SCHED_OTHER.
bool get_other(SchedAttr* a) {
  *a = SchedAttr{};
  return raw_syscall6(SYS_sched_getattr, 0, reinterpret_cast<long>(a),
                      sizeof *a, 0) == 0 &&
         a->policy == SCHED_OTHER;
}

// Keeps the policy and nice value read by get_other; 0 is the default.
bool set_runtime(SchedAttr* a, uint64_t runtime) {
  a->size = sizeof *a;
  a->flags = 0;
  a->runtime = runtime;
  return raw_syscall6(SYS_sched_setattr, 0, reinterpret_cast<long>(a), 0) == 0;
}

}  // namespace

ShortSlice::ShortSlice() {
  int saved = errno;
  SchedAttr a;
  set_ = get_other(&a) && a.runtime > kShortSliceNs &&
         set_runtime(&a, kShortSliceNs);
  errno = saved;
}

ShortSlice::~ShortSlice() {
  if (!set_) return;
  int saved = errno;
  SchedAttr a;
  if (get_other(&a)) set_runtime(&a, 0);
  errno = saved;
}

}  // namespace huptime
