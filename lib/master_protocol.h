// What a generation tells the resident `huptime --master` (launcher/master*)
// over the master socket: a SOCK_SEQPACKET socketpair whose child end every
// generation inherits (handoff "master=").
//
// One message kind: "these are my listeners". A process sends it once, when
// it has taken over (or created) every listener of its generation. The
// listening sockets ride along as SCM_RIGHTS, so the master holds the same
// sockets: it can start another copy (--multi) or revive a dead service
// (--revive) without the listen queue ever closing. The master only adopts
// a report once its generation is the one serving (ServiceShared
// current_gen), so a failed new version never leaves a socket behind.
#pragma once

#include <cstdint>

namespace huptime {

struct MasterReport {
  static constexpr uint32_t kMagic = 0x4855504d;  // "HUPM"
  static constexpr int kMaxFds = 128;             // within SCM_MAX_FD (253)
  uint32_t magic;
  uint32_t generation;
  int32_t pid;     // the reporting process
  uint32_t n_fds;  // listeners in SCM_RIGHTS, in order
  uint64_t inodes[kMaxFds];
};

}  // namespace huptime
