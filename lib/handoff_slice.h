// A short scheduler slice for a thread on a hand-off's critical path.
//
// On a saturated machine (the bench: 8 clients and the service on 2 CPUs)
// the steps between "the old generation stopped accepting" and "the new
// one accepts" are wake-ups: the old leader's restart thread noticing its
// workers stopped, then the new copy's thread released by its barrier.
// Under EEVDF a woken thread whose slice is no shorter than the running
// one's waits until that one reaches its deadline (RUN_TO_PARITY), a
// millisecond or more each time. With a short custom slice (sched_attr's
// sched_runtime: Linux 6.12 and later, no privilege needed) it preempts at
// once (PREEMPT_SHORT); its share of the CPU stays the same. Older kernels
// refuse the call or ignore the field: nothing changes there.
//
// Scoped: the thread gets the default slice back when the guard ends, so
// a program thread (the new copy's, in the barrier) keeps nothing of it.
// A slice the program set itself on that thread is reset to the default
// (none known to do that). Only threads in SCHED_OTHER. errno preserved.
// Two system calls on each end: for cold paths only.
#pragma once

namespace huptime {

class ShortSlice {
 public:
  ShortSlice();
  ~ShortSlice();
  ShortSlice(const ShortSlice&) = delete;
  ShortSlice& operator=(const ShortSlice&) = delete;

 private:
  bool set_ = false;
};

}  // namespace huptime
