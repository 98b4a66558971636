// Exec mode: reaping the children the previous image left behind
// (old_children.h says why, and how they are told from the new program's).
#pragma once

namespace huptime {

// The re-executed image, during init: finds this process's children
// through /proc (all of them the previous image's, see old_children.h) and
// starts a thread (every signal blocked) that waits for each to exit and
// reaps it, unless the program reaped it first. The thread ends when none
// is left. It waits with WNOWAIT and reaps one pid at a time with WNOHANG
// after checking the start time, so it never takes the exit status of a
// process the new program forked; then it tells signals.h. Returns whether
// there were any. Cold path; allocates.
bool reap_old_children();

}  // namespace huptime
