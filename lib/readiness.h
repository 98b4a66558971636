// A new generation's readiness and its hand-off barrier (readiness.cc):
// part of the generation's interface (generation.h includes it).
#pragma once

#include <atomic>

namespace huptime {

// Readiness. Call gen_expect_wait() when this process gets a listener;
// gen_note_wait() from every hook that shows the program waiting on one,
// gen_note_accept() from accept. Cheap when readiness is already known (one
// relaxed load).
//
// With --ready=notify a new copy's hand-off barrier waits for its READY=1,
// which the program often sends only after it registered its listeners
// (redis adds them to epoll, then loads its data, then says READY=1): the
// barrier then holds only accept(), never a wait that accepts nothing. A
// non-blocking accept() is not held: until then gen_note_accept() returns
// false and the hook fails it with EAGAIN, as for an empty queue (redis
// accepts while it loads, to answer -LOADING), and the old generation
// takes the connection.
void gen_expect_wait();
extern constinit std::atomic<bool> g_await_wait;
bool gen_note_wait_slow(bool accepting, bool nonblock);
inline void gen_note_wait() {
  if (g_await_wait.load(std::memory_order_relaxed))
    gen_note_wait_slow(false, false);
}
inline bool gen_note_accept(bool nonblock) {
  if (!g_await_wait.load(std::memory_order_relaxed)) return true;
  return gen_note_wait_slow(true, nonblock);
}

// The ready socket of this generation hung up: someone reported. Release
// what only a starting generation needs (the socket, unclaimed listeners).
void gen_after_ready();

// Exec mode with --ready=notify: the re-executed image got READY=1 on its
// own notify socket (restart.cc reads it).
void gen_ready_notified();

// True once this generation reported ready (shared by its processes).
bool gen_is_ready();

}  // namespace huptime
