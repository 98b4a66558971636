// A generation: the processes that run one version of the service (the
// program and the workers it forks), sharing one page of state and one
// drain latch, both inherited across fork.
//
//  - The restart token (owner pid in the shared page) makes sure only one
//    process of a generation runs a restart, however many of them got the
//    signal (`systemctl kill -s HUP` reaches them all).
//  - The drain latch is an eventfd written once and never read: it stays
//    readable, so every process of the generation wakes and stops
//    accepting, each in its own restart thread.
//  - Readiness: a generation is ready when every listener it inherited has
//    been claimed by a bind() and listen()ed on, and a process of it waits
//    for connections on one (accept, poll/select, or epoll registration).
//    The first process to see that reports it once: the log line, and one
//    byte on the ready socket to the old generation. The old generation
//    stops accepting, then hangs up; until that hang-up (at most 2 s) no
//    process of the new generation accepts, so versions never go back.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "readiness.h"

namespace huptime {

// Creates the shared state of a new generation in this process, unless it
// exists. Cold path (first listener, or init of a new generation).
bool gen_ensure(uint32_t generation);

// Adopts the state passed through an exec in place (handoff "state=").
bool gen_attach(int state_fd, int latch_fd);

bool gen_exists();
uint32_t gen_number();

// The restart token. Taking it fails while another live process holds it.
bool gen_take_restart_token();
void gen_release_restart_token();

void gen_announce_drain();
bool gen_drain_announced();
// Exec mode, after a failed re-exec: the generation serves again.
void gen_clear_drain();

// Which processes of the generation still accept: each holds a POSIX read
// lock on the shared page while it accepts. Such locks belong to one
// process (a fork child does not inherit them) and vanish when it dies, so
// a crashed worker never holds the others up.
void gen_mark_accepting();
void gen_mark_stopped();
// Waits until no other process of the generation accepts, at most
// timeout_ms. Returns false on timeout.
bool gen_wait_others_stopped(int timeout_ms);

// Closing any fd of a file drops the process's POSIX locks on it: after the
// program closed the number our page was at (we moved it), take it again.
void gen_relock();

// After fork in the child: the lock was not inherited; take a slot.
void gen_after_fork_child();

// Connections this process opened (+1) or closed (-1), for --status: its
// slot's counter in the generation's page, or a counter nobody reads
// without a slot (never null: no test on the way). Inline: every tracked
// accept and close counts.
extern constinit std::atomic<std::atomic<int32_t>*> g_slot_conns;
inline void gen_count_conns(int delta) {
  g_slot_conns.load(std::memory_order_relaxed)
      ->fetch_add(delta, std::memory_order_relaxed);
}

// The process this generation started as.
pid_t gen_root_pid();

// The generation's shared page (shared_state.h); null before gen_ensure()
// or gen_attach().
struct GenShared;
GenShared* gen_page();

// A daemon's first process forks and exits (nginx's `daemon on`; a classic
// daemon forks twice): the process left becomes the generation's main
// process, the one that re-executes in exec mode. True when this process
// descends from the root through forks alone, its parent and the root have
// both exited since, and it took the root's place (the first to ask wins).
// A worker whose parent lives never qualifies.
//
// When false, *exiting (if given) names the process whose exit may still
// make this one qualify: its parent or the root, alive and of the root's
// line. The daemon's service can be running (and signalled) while they
// finish exiting; 0 when no exit would help.
bool gen_take_over_root(pid_t* exiting = nullptr);

// The old generation's side of a new one: the leader creates the new
// generation's page and latch before starting it (handed over as
// "state="), so that it can mark it ready (--ready=notify) and find and
// kill all of its processes if it fails (rollback).
bool gen_prepare_next(uint32_t generation, int* state_fd, int* latch_fd);
void gen_next_started(pid_t pid);
void gen_next_mark_ready();
// SIGKILLs every process holding the new generation's page. True when none
// is left within timeout_ms.
bool gen_next_kill_all(int timeout_ms);
void gen_release_next();

}  // namespace huptime
