// Where the restart happens: the restart thread of each process.
//
// One thread per process that holds listeners, started lazily (the first
// listener; in a fork child, the first hook on a listener), with every
// signal blocked except the restart signal. It owns this process's
// RestartMachine, waits on the self-pipe, the generation's drain latch, the
// starting copy's ready socket and a timer, and carries out the machine's
// actions: spawn the new copy (spawn.cc), stop accepting (listeners.cc),
// exit once drained, or re-exec in place.
#pragma once

#include <sys/types.h>

#include <atomic>

namespace huptime {

// The process whose restart thread is running (signal handler checks it).
std::atomic<pid_t>& restart_thread_pid();

// The process whose restart thread has begun to run, and so watches the
// drain latch. Later than the above: a worker forked under load waited
// over 100 ms for its thread's first time slice (compat/nginx-exec).
std::atomic<pid_t>& restart_thread_running_pid();

// Starts the thread in this process unless it runs. Cold path.
void restart_thread_ensure();

// Wakes the thread to look at the connection count. async-signal-safe.
void restart_poke();

// Child side of fork: the thread did not survive it.
void restart_after_fork_child();

// Parent side of fork: a process that holds listeners but never waits on
// them, and was itself forked (nginx's master after `daemon on`: the
// process that bound is gone, its workers accept), would otherwise have no
// restart thread, and a restart signal would only be recorded. Forking its
// workers starts the thread; the thread then acts on a signal recorded
// meanwhile. Cold path: one relaxed load when the thread runs.
void restart_after_fork_parent();

// A child forked by a process that had already stopped accepting (nginx's
// master respawning a worker that just drained and exited) belongs to the
// draining generation, but no latch wakes it: it has no restart thread,
// and its listeners are placeholders that never become readable, so it
// would wait forever. The hooks that see it wait on such a listener
// (epoll_ctl, poll, select) call this; it starts the thread once, which
// sees the drain latch and drains and exits like its siblings. Cheap when
// the process is not such a child (check g_late_child first).
void restart_late_child_waits();
extern constinit std::atomic<bool> g_late_child;

// The body of the restart thread (restart.cc); restart_thread.cc starts it.
[[noreturn]] void run_restart_thread();

// True once this process stopped accepting (placeholders installed).
extern constinit std::atomic<bool> g_stopped_accepting;

}  // namespace huptime
