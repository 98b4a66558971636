// Idle client connections, the kind that keep a draining generation alive:
// connected, then silent (nothing sent, or half a request).
#pragma once

#include <string>

#include "deadline.h"
#include "sockspec.h"

namespace huptime::test {

class IdleConnection {
 public:
  // Connects to `target` and sends `partial` (may be empty). Throws
  // std::runtime_error if the connection fails.
  IdleConnection(const SockSpec& target, const std::string& partial);
  ~IdleConnection();
  IdleConnection(const IdleConnection&) = delete;
  IdleConnection& operator=(const IdleConnection&) = delete;

  // Waits until the server ends the connection (EOF or reset) or the
  // deadline passes; true if it ended. Any data the server sends first is
  // read and ignored.
  bool wait_closed_by_server(const Deadline& deadline);

  // True if the server has not ended the connection (no EOF, no error),
  // checked without waiting.
  bool still_open();

  // Closes our end.
  void close_now();

 private:
  int fd_ = -1;
};

}  // namespace huptime::test
