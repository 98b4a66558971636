// The exec family, when the program calls it.
//
// Two cases, told apart by the pid:
//  - The service replaces its own image (a wrapper script's `exec server`,
//    a program that re-execs itself): it stays the service. The new image
//    gets LD_PRELOAD, the launcher's variables and a hand-off with the
//    generation's state, the listeners still waiting for a bind(), and
//    the program's own listeners it did not mark close-on-exec.
//  - A forked child execs: once the service has listeners, that is a
//    helper program (a shell-out, a CGI) and it gets neither huptime nor
//    the listeners. Before that (a launcher script starting the server),
//    it is treated like the service.
// Runs in fork and vfork children: no allocation, no lock.
#pragma once

namespace huptime {

enum class ExecKind { kPath, kSearch };  // execve-like, execvp-like

int exec_hook(ExecKind kind, const char* file, char* const argv[],
              char* const envp[]);

}  // namespace huptime
