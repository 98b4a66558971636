#include "socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <string_view>

#include "config.h"

namespace huptime {

namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

// A stream socket in the listening state: what a bind() can be answered
// with.
bool is_listening_stream(int fd, uint64_t* inode) {
  struct stat st;
  int type = 0, accepting = 0;
  socklen_t len = sizeof type;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      type != SOCK_STREAM)
    return false;
  len = sizeof accepting;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
      !accepting)
    return false;
  *inode = static_cast<uint64_t>(st.st_ino);
  return true;
}

}  // namespace

Activation take_activation(const char* listen_pid, const char* listen_fds,
                           pid_t self) {
  Activation out;
  if (!listen_pid || !listen_fds) return out;
  std::optional<int64_t> pid = parse_number(listen_pid);
  std::optional<int64_t> count = parse_number(listen_fds);
  if (!pid || *pid != self) return out;  // meant for another process
  if (!count || *count < 1 || *count > Handoff::kMaxFds) {
    out.warning = "ignoring LISTEN_FDS='" + std::string(listen_fds) +
                  "' (expected 1 to " + std::to_string(Handoff::kMaxFds) + ")";
    return out;
  }
  for (int i = 0; i < *count; ++i) {
    FdInode item{kFirstFd + i, 0};
    if (!is_listening_stream(item.fd, &item.inode)) {
      out.sockets.clear();
      out.warning = "socket activation: fd " + std::to_string(item.fd) +
                    " is not a listening stream socket; leaving LISTEN_FDS "
                    "to the program";
      return out;
    }
    out.sockets.push_back(item);
  }
  return out;
}

std::vector<std::string> without_activation_vars(
    const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const std::string& entry : env) {
    std::string_view name = std::string_view(entry).substr(0, entry.find('='));
    if (name != "LISTEN_PID" && name != "LISTEN_FDS" &&
        name != "LISTEN_FDNAMES")
      out.push_back(entry);
  }
  return out;
}

std::string activation_handoff_var(const std::vector<FdInode>& sockets,
                                   pid_t pid) {
  Handoff handoff;
  handoff.pid = pid;
  handoff.generation = 1;
  for (const FdInode& item : sockets) handoff.listen[handoff.n_listen++] = item;
  char buf[8192];
  size_t n = encode_handoff(handoff, buf, sizeof buf);
  return std::string(kEnvFds) + "=" + std::string(buf, n);
}

}  // namespace huptime
