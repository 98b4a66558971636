// The hand-off between generations, carried in HUPTIME_FDS:
//
//   v1;pid=0000012345;gen=3;ready=7;state=5,6;listen=3:81234,4:81240;own=9:81300
//
//   pid     the process that may use it (like LISTEN_PID): the variable is
//           ignored by any other process. Fixed width, so that the child of
//           clone() can write its own pid in place without allocating.
//   gen     generation number of the new image (1 is the first start).
//   ready   a socket on which the new generation reports readiness.
//   state   the generation's shared page and drain latch: created by the
//           old generation for a new copy (fork mode), or kept when a
//           process execs in place within one generation (a wrapper
//           script's `exec server`).
//   svc     the service's shared page (service_state.h), checked on
//           receipt: a memfd named huptime-service holding a valid page.
//   master  the resident `huptime --master` (master_link.h): a socket to
//           report this generation's listeners on; passed on to every
//           later generation.
//   listen  inherited listeners waiting for the program's bind(): fd and
//           the socket's inode, checked on receipt so that a tampered or
//           stale variable never makes us adopt a descriptor that is not
//           the socket it claims to be.
//   own     listeners the program itself carried over its exec in place.
//
// Pure and async-signal-safe: fixed-size storage, no allocation.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace huptime {

struct FdInode {
  int fd = -1;
  uint64_t inode = 0;
};

struct Handoff {
  static constexpr int kMaxFds = 128;
  pid_t pid = 0;
  uint32_t generation = 1;
  int ready_fd = -1;
  int state_fd = -1;
  int latch_fd = -1;
  int svc_fd = -1;
  int master_fd = -1;
  int n_listen = 0;
  FdInode listen[kMaxFds];
  int n_own = 0;
  FdInode own[kMaxFds];
};

inline constexpr int kHandoffPidWidth = 10;

// Writes the value (without "HUPTIME_FDS="). Returns the length, or 0 when
// it does not fit. async-signal-safe.
size_t encode_handoff(const Handoff& h, char* buf, size_t size);

// Overwrites the fixed-width pid field of an encoded value in place.
// async-signal-safe.
bool patch_handoff_pid(char* encoded, pid_t pid);

// Strict: any malformed field, duplicate fd, fd < 0 or more than kMaxFds
// entries rejects the whole value.
bool decode_handoff(std::string_view text, Handoff* out);

}  // namespace huptime
