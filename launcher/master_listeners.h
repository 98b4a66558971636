// The listening sockets `huptime --master` holds (master_protocol.h).
//
// Generations report their listeners once they have taken them all over;
// the master keeps each report until its generation serves
// (ServiceShared current_gen), then holds exactly that set: sockets the new
// version no longer uses are closed, so no port keeps accepting for nobody,
// and a version that failed to start never leaves a socket behind. What it
// holds is handed to every generation the master starts itself (--multi
// copies, --revive), so their bind() gets the same accept queue.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <vector>

#include "handoff.h"

namespace huptime {

class HeldListeners {
 public:
  HeldListeners() = default;
  ~HeldListeners();
  HeldListeners(const HeldListeners&) = delete;
  HeldListeners& operator=(const HeldListeners&) = delete;

  // Takes ownership of `sockets` (socket activation): held at once.
  void hold(const std::vector<FdInode>& sockets);

  // Reads every report waiting on the master socket `fd` (non-blocking).
  void read_reports(int fd);

  // One listener of `generation` (seccomp interception, which sees the
  // listen() itself): takes ownership of `fd`.
  void report(uint32_t generation, int fd, uint64_t inode);

  // Whether `inode` is a socket held or reported.
  bool knows(uint64_t inode) const;

  // Generation `generation` died before it served: its reported sockets
  // are closed (held, they would keep its addresses from a revival).
  void drop(uint32_t generation);

  // Generation `generation` serves: hold its reported set, if any.
  void commit(uint32_t generation);

  // The held sockets, for a hand-off (fds stay ours).
  const std::vector<FdInode>& held() const { return held_; }

  // Closes everything.
  void close_all();

 private:
  void replace_held(std::vector<FdInode> sockets);

  std::vector<FdInode> held_;
  std::map<uint32_t, std::vector<FdInode>> reported_;  // by generation
};

}  // namespace huptime
