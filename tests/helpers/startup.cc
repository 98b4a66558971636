#include "startup.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

namespace huptime::test {
namespace {

// The USR1 recorder's state: set before the handler is installed, read
// only by the handler afterwards.
constexpr size_t kPathMax = 512;
constexpr size_t kLineMax = 160;
char g_usr1_path[kPathMax];
char g_usr1_temp[kPathMax + 8];
char g_usr1_body[kLineMax];

[[noreturn]] void bad_startup(const std::string& path,
                              const std::string& text) {
  fmt::print(stderr, "{}: {}: unknown start-up behaviour '{}'\n",
             program_invocation_short_name, path, text);
  std::exit(2);
}

// Digits of `value` into `out` (at least 12 bytes); returns the length.
// async-signal-safe
size_t format_pid(long value, char* out) {
  char digits[12];
  size_t len = 0;
  do {
    digits[len++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && len < sizeof digits);
  for (size_t i = 0; i < len; ++i) out[i] = digits[len - 1 - i];
  return len;
}

// async-signal-safe
void append(char* buf, size_t* len, size_t cap, const char* text) {
  for (; *text && *len < cap; ++text) buf[(*len)++] = *text;
}

// async-signal-safe: open, write, close, rename; errno restored.
void on_usr1(int) {
  int saved = errno;
  char line[kLineMax + 40];
  size_t len = 0;
  append(line, &len, sizeof line, "pid=");
  len += format_pid(static_cast<long>(getpid()), line + len);
  append(line, &len, sizeof line - 1, " body=");
  append(line, &len, sizeof line - 1, g_usr1_body);
  line[len++] = '\n';
  int fd = open(g_usr1_temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    bool whole = write(fd, line, len) == static_cast<ssize_t>(len);
    close(fd);
    if (whole) rename(g_usr1_temp, g_usr1_path);
  }
  errno = saved;
}

// Dies of SIGSEGV without leaving a core file behind.
[[noreturn]] void crash() {
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
  std::abort();  // not reached
}

}  // namespace

Startup read_startup(const std::string& path) {
  Startup startup;
  if (path.empty()) return startup;
  std::ifstream file(path);
  std::string text;
  if (!file || !std::getline(file, text) || text.empty() || text == "ok")
    return startup;
  if (text == "exit1") {
    fmt::print(stderr, "{}: start-up file says exit1\n",
               program_invocation_short_name);
    std::exit(1);
  }
  if (text == "crash-after-bind") {
    startup.kind = StartupKind::kCrashAfterBind;
  } else if (text == "hang-before-listen") {
    startup.kind = StartupKind::kHang;
  } else if (text == "ignore-term") {
    signal(SIGTERM, SIG_IGN);
  } else if (text == "notify-never") {
    startup.kind = StartupKind::kNotifyNever;
  } else if (text.starts_with("warmup=") || text.starts_with("notify=")) {
    startup.kind = text[0] == 'w' ? StartupKind::kWarmup : StartupKind::kNotify;
    try {
      size_t used = 0;
      startup.warmup_ms = std::stoi(text.substr(7), &used);
      if (used != text.size() - 7 || startup.warmup_ms < 0)
        bad_startup(path, text);
    } catch (const std::exception&) {
      bad_startup(path, text);
    }
  } else {
    bad_startup(path, text);
  }
  return startup;
}

void after_bind(const Startup& startup) {
  switch (startup.kind) {
    case StartupKind::kNormal:
    case StartupKind::kExit1:
    case StartupKind::kNotify:
    case StartupKind::kNotifyNever:
      return;
    case StartupKind::kCrashAfterBind:
      crash();
    case StartupKind::kHang:
      for (;;) pause();
    case StartupKind::kWarmup:
      std::this_thread::sleep_for(std::chrono::milliseconds(startup.warmup_ms));
      return;
  }
}

void after_listen(const Startup& startup) {
  const char* address = getenv("NOTIFY_SOCKET");
  if (startup.kind != StartupKind::kNotify || !address || !*address) return;
  std::string where(address);
  int delay_ms = startup.warmup_ms;
  std::thread([where, delay_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (where.size() >= sizeof addr.sun_path) return;
    memcpy(addr.sun_path, where.data(), where.size());
    if (where[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where.size());
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const char message[] = "READY=1\nSTATUS=serving";
    if (sendto(fd, message, sizeof message - 1, 0,
               reinterpret_cast<sockaddr*>(&addr), len) < 0)
      fmt::print(stderr, "{}: sd_notify: {}\n", program_invocation_short_name,
                 strerror(errno));
    close(fd);
  }).detach();
}

void install_usr1_recorder(const std::string& path, const std::string& body) {
  if (path.empty()) return;
  if (path.size() >= kPathMax) {
    fmt::print(stderr, "{}: --usr1-file path too long\n",
               program_invocation_short_name);
    std::exit(2);
  }
  std::snprintf(g_usr1_path, sizeof g_usr1_path, "%s", path.c_str());
  std::snprintf(g_usr1_temp, sizeof g_usr1_temp, "%s.tmp", path.c_str());
  std::string first = body.substr(0, body.find('\n'));
  std::snprintf(g_usr1_body, sizeof g_usr1_body, "%s", first.c_str());
  struct sigaction action {};
  action.sa_handler = on_usr1;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGUSR1, &action, nullptr) != 0) {
    fmt::print(stderr, "{}: sigaction SIGUSR1: {}\n",
               program_invocation_short_name, std::strerror(errno));
    std::exit(1);
  }
}

}  // namespace huptime::test
