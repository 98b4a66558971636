// The restart signal (SIGHUP) and what the program believes about it.
//
// While a process has listeners, huptime owns the restart signal: its
// handler only writes one byte to the restart thread's self-pipe. The
// program may still install its own handler (nginx does, after bind());
// the sigaction/signal hooks record it and report it back, but the real
// disposition stays ours. A process of the service without listeners (a
// helper it forked) gets the program's disposition applied as if huptime
// were not there.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>

namespace huptime {

int restart_signal();

// Installs our handler unless it is installed in this process image.
// Cold path: the first listener.
void signals_install();

// Hook logic. Returns true when it handled the call (result in *rc);
// false means: not the restart signal, call the real function.
bool signals_sigaction(int sig, const struct sigaction* act,
                       struct sigaction* old, int* rc);
bool signals_signal(int sig, sighandler_t handler, sighandler_t* rc);

// Set by the handler when no restart thread runs in this process yet (a
// fork child); the thread, once started, acts on it.
extern constinit std::atomic<bool> g_restart_requested;

// Blocking hooks that emulate a syscall the kernel would have restarted
// (accept on a listener the program thinks blocking) ask this after EINTR:
// true when every handler the program installed has SA_RESTART.
bool all_handlers_restart();

// Before exec of a new generation: dispositions as at first start (ignored
// set from the launcher, everything else default), except that the restart
// signal keeps our handler. async-signal-safe: for the child of spawn.cc.
void signals_reset_for_exec(uint64_t ignored_mask);

// Before exec in place, while the program's threads still run: only what
// execve would keep. execve itself resets every caught signal to its
// default, atomically; resetting them here instead would leave the program
// running with default dispositions until the exec (nginx's master, still
// reaping its workers, was killed by their SIGCHLD/SIGIO in that window).
// So: signals ignored at launch are ignored, and SIGIO is ignored too,
// which discards one pending from the old image's O_ASYNC fds that would
// otherwise kill the new image. Signals the program ignored stay ignored
// across execve; signals_take_over_at_start puts them back to default.
void signals_prepare_reexec(uint64_t ignored_mask);

// The mask a new generation is exec'ed with: the launch mask plus the
// restart signal, so that one arriving before the new image's library is
// in place waits instead of killing it (default action: terminate).
sigset_t signals_exec_mask(uint64_t launch_mask);

// Init of a new generation's image: our handler, signals ignored but not
// at launch back to default, then the restart signal unblocked unless it
// was blocked at launch. A signal that waited is then delivered and
// recorded (owed while the generation starts).
//
// After an exec in place with children of the old image still running
// (`old_children`), SIGIO stays ignored until they are gone
// (signals_old_children_gone) or the program sets a disposition; the
// program is told SIG_DFL meanwhile. Those children may hold an O_ASYNC fd
// naming this pid as its owner (nginx passes each worker's channel to the
// others), and its SIGIO would end this image before the program installs
// a handler for it.
void signals_take_over_at_start(bool old_children);

// The reaper: the old image's children are all gone.
void signals_old_children_gone();

// Exec in place: save the program's dispositions, and put them back if
// the exec failed.
void signals_save_all();
void signals_restore_all();

}  // namespace huptime
