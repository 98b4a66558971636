// --ready=notify: the sd_notify protocol, so a service that already tells
// systemd when it is ready (READY=1 on $NOTIFY_SOCKET) tells huptime the
// same way, unmodified.
//
// The socket lives in the abstract namespace (no file to clean up, nothing
// left behind by a crash) under a random name. Abstract sockets ignore
// file permissions: any user on the host can send to one. Every datagram
// therefore carries the sender's credentials (SO_PASSCRED) and only those
// of the service's uid or root are kept.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace huptime {

struct NotifyMessage {
  bool ready = false;      // READY=1
  bool reloading = false;  // RELOADING=1
  bool stopping = false;   // STOPPING=1
  std::string status;      // STATUS=... (the last one in the datagram)
  int errno_value = 0;     // ERRNO=n
  pid_t main_pid = 0;      // MAINPID=n
  // From SCM_CREDENTIALS, filled by read_notify_messages.
  pid_t sender_pid = 0;
  uid_t sender_uid = 0;
};

// Parses one datagram: newline-separated KEY=VALUE, the last line with or
// without a newline. Flags count only with the value "1"; ERRNO and
// MAINPID only when a non-negative (MAINPID: positive) decimal that fits;
// unknown keys, malformed lines and bad numbers are ignored. Pure.
NotifyMessage parse_notify_message(std::string_view datagram);

// fd: AF_UNIX SOCK_DGRAM, CLOEXEC | NONBLOCK, >= 3, SO_PASSCRED on, bound
// to a random abstract name. address: the NOTIFY_SOCKET value for the
// program, "@huptime-<32 hex digits>" ('@' stands for the leading NUL).
// The caller owns fd (and should protect it like the library's other fds).
struct NotifySocket {
  int fd = -1;
  std::string address;
};

// nullopt with errno set on failure. Cold path.
std::optional<NotifySocket> open_notify_socket();

// Reads the datagrams queued on fd without blocking (at most 256 per call,
// so that a flood cannot hold the caller: the socket stays readable when
// more remain) and returns those sent by allowed_uid or root, sender
// filled in. *dropped (may be null) is set to the number of datagrams
// discarded: other senders (for the caller to log), no credentials, or
// larger than 4 KiB (systemd's limit). fds passed along (SCM_RIGHTS, as
// FDSTORE=1 does) are closed: huptime keeps no fd store.
std::vector<NotifyMessage> read_notify_messages(int fd, uid_t allowed_uid,
                                                int* dropped);

}  // namespace huptime
