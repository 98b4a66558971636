// Exec mode: replacing this process's image with the next generation,
// same PID. Runs on the restart thread once the process has drained; the
// listeners travel as the copies saved when it stopped accepting.
#pragma once

namespace huptime {

// Returns only on failure, with an errno; everything it changed (signal
// dispositions, working directory, close-on-exec flags of the hand-off)
// is put back so the process can serve again.
int reexec_in_place();

}  // namespace huptime
