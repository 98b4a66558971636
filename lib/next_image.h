// The image of the next generation: the command as the user gave it,
// resolved again now, the environment as at first start, LD_PRELOAD and
// the launcher's variables, and the hand-off (HUPTIME_FDS) for the
// listeners in `handoff`. Allocates: build it before fork/clone.
#pragma once

#include <optional>

#include "exec_image.h"
#include "handoff.h"

namespace huptime {

// On failure returns nullopt with *error: ENOENT (command not found),
// EACCES (not executable) or another errno.
std::optional<ExecImage> build_next_image(const Handoff& handoff, int* error);

// Removes the --unlink files (pidfiles and the like). Logs each.
void unlink_configured_files();

}  // namespace huptime
