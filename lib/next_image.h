// The image of the next generation: the command as the user gave it,
// resolved again now, the environment as at first start, LD_PRELOAD and
// the launcher's variables, and the hand-off (HUPTIME_FDS) for the
// listeners in `handoff`. Allocates: build it before fork/clone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "exec_image.h"
#include "handoff.h"

namespace huptime {

// On failure returns nullopt with *error: ENOENT (command not found),
// EACCES (not executable) or another errno. `replace` holds NAME=VALUE
// entries that replace the base environment's (NOTIFY_SOCKET).
std::optional<ExecImage> build_next_image(
    const Handoff& handoff, int* error,
    const std::vector<std::string>& replace = {});

// The path the next generation would start, or nullopt with *error: the
// check exec mode makes before it drains.
std::optional<std::string> resolve_next_command(int* error);

// Removes the --unlink files (pidfiles and the like). Logs each.
void unlink_configured_files();

}  // namespace huptime
