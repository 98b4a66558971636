#include "systemd_notify.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "raw_syscall.h"

namespace huptime {

int systemd_notify_send(std::string_view address, std::string_view message) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.size() < 2 || address.size() >= sizeof addr.sun_path ||
      (address[0] != '/' && address[0] != '@'))
    return EINVAL;
  memcpy(addr.sun_path, address.data(), address.size());
  if (address[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  long fd = raw_syscall6(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return static_cast<int>(-fd);
  long rc = raw_syscall6(SYS_sendto, fd, reinterpret_cast<long>(message.data()),
                         static_cast<long>(message.size()), MSG_NOSIGNAL,
                         reinterpret_cast<long>(&addr), len);
  raw_syscall6(SYS_close, fd);
  return rc < 0 ? static_cast<int>(-rc) : 0;
}

uint64_t systemd_monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u +
         static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

std::string systemd_reloading_message() {
  return "RELOADING=1\nMONOTONIC_USEC=" +
         std::to_string(systemd_monotonic_usec()) + "\n";
}

std::string systemd_ready_message(int main_pid) {
  std::string message;
  if (main_pid > 0) message = "MAINPID=" + std::to_string(main_pid) + "\n";
  return message + "READY=1\n";
}

}  // namespace huptime
