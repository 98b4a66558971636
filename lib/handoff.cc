#include "handoff.h"

#include <charconv>
#include <cstring>

namespace huptime {

namespace {

// A tiny append-only writer: no allocation, no locale, no errno.
class Writer {
 public:
  Writer(char* buf, size_t size) : buf_(buf), size_(size) {}
  void text(const char* s) {
    while (*s) put(*s++);
  }
  void number(uint64_t v, int width = 0) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    for (int i = n; i < width; ++i) put('0');
    while (n) put(digits[--n]);
  }
  void fd_list(const char* key, const FdInode* items, int n) {
    if (n == 0) return;
    text(key);
    for (int i = 0; i < n; ++i) {
      if (i) put(',');
      number(static_cast<uint64_t>(items[i].fd));
      put(':');
      number(items[i].inode);
    }
  }
  size_t finish() {
    if (overflow_ || used_ >= size_) return 0;
    buf_[used_] = '\0';
    return used_;
  }

 private:
  void put(char c) {
    if (used_ + 1 < size_)
      buf_[used_++] = c;
    else
      overflow_ = true;
  }
  char* buf_;
  size_t size_;
  size_t used_ = 0;
  bool overflow_ = false;
};

template <typename T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_fd(std::string_view s, int* fd) {
  return parse_number(s, fd) && *fd >= 0;
}

bool parse_fd_list(std::string_view s, FdInode* items, int* n) {
  *n = 0;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{}
                                        : s.substr(comma + 1);
    if (comma != std::string_view::npos && s.empty()) return false;
    size_t colon = item.find(':');
    if (colon == std::string_view::npos || *n >= Handoff::kMaxFds) return false;
    FdInode fi;
    if (!parse_fd(item.substr(0, colon), &fi.fd) ||
        !parse_number(item.substr(colon + 1), &fi.inode) || fi.inode == 0)
      return false;
    items[(*n)++] = fi;
  }
  return *n > 0;
}

bool has_duplicate_fds(const Handoff& h) {
  int fds[2 * Handoff::kMaxFds + 4];
  int n = 0;
  for (int i = 0; i < h.n_listen; ++i) fds[n++] = h.listen[i].fd;
  for (int i = 0; i < h.n_own; ++i) fds[n++] = h.own[i].fd;
  for (int fd : {h.ready_fd, h.state_fd, h.latch_fd, h.svc_fd, h.master_fd})
    if (fd >= 0) fds[n++] = fd;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (fds[i] == fds[j]) return true;
  return false;
}

}  // namespace

size_t encode_handoff(const Handoff& h, char* buf, size_t size) {
  Writer w(buf, size);
  w.text("v1;pid=");
  w.number(static_cast<uint64_t>(h.pid > 0 ? h.pid : 0), kHandoffPidWidth);
  w.text(";gen=");
  w.number(h.generation);
  if (h.ready_fd >= 0) {
    w.text(";ready=");
    w.number(static_cast<uint64_t>(h.ready_fd));
  }
  if (h.state_fd >= 0 && h.latch_fd >= 0) {
    w.text(";state=");
    w.number(static_cast<uint64_t>(h.state_fd));
    w.text(",");
    w.number(static_cast<uint64_t>(h.latch_fd));
  }
  if (h.svc_fd >= 0) {
    w.text(";svc=");
    w.number(static_cast<uint64_t>(h.svc_fd));
  }
  if (h.master_fd >= 0) {
    w.text(";master=");
    w.number(static_cast<uint64_t>(h.master_fd));
  }
  w.fd_list(";listen=", h.listen, h.n_listen);
  w.fd_list(";own=", h.own, h.n_own);
  return w.finish();
}

bool patch_handoff_pid(char* encoded, pid_t pid) {
  static const char kPrefix[] = "v1;pid=";
  if (strncmp(encoded, kPrefix, sizeof kPrefix - 1) != 0) return false;
  char* field = encoded + sizeof kPrefix - 1;
  // Check everything before writing anything: a failed patch changes
  // nothing, and never reads past a short value.
  for (int i = 0; i < kHandoffPidWidth; ++i)
    if (field[i] < '0' || field[i] > '9') return false;
  if (field[kHandoffPidWidth] != ';') return false;
  if (pid <= 0 || static_cast<uint64_t>(pid) >= 10'000'000'000ull) return false;
  uint64_t v = static_cast<uint64_t>(pid);
  for (int i = kHandoffPidWidth - 1; i >= 0; --i) {
    field[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return true;
}

bool decode_handoff(std::string_view text, Handoff* out) {
  Handoff h;
  bool saw_pid = false, saw_gen = false;
  if (text.substr(0, 3) != "v1;") return false;
  text.remove_prefix(3);
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view field = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view{}
                                          : text.substr(semi + 1);
    if (semi != std::string_view::npos && text.empty()) return false;
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "pid" && !saw_pid) {
      saw_pid = parse_number(value, &h.pid) && h.pid > 0;
      if (!saw_pid) return false;
    } else if (key == "gen" && !saw_gen) {
      saw_gen = parse_number(value, &h.generation) && h.generation > 0;
      if (!saw_gen) return false;
    } else if (key == "ready" && h.ready_fd < 0) {
      if (!parse_fd(value, &h.ready_fd)) return false;
    } else if (key == "state" && h.state_fd < 0) {
      size_t comma = value.find(',');
      if (comma == std::string_view::npos ||
          !parse_fd(value.substr(0, comma), &h.state_fd) ||
          !parse_fd(value.substr(comma + 1), &h.latch_fd))
        return false;
    } else if (key == "svc" && h.svc_fd < 0) {
      if (!parse_fd(value, &h.svc_fd)) return false;
    } else if (key == "master" && h.master_fd < 0) {
      if (!parse_fd(value, &h.master_fd)) return false;
    } else if (key == "listen" && h.n_listen == 0) {
      if (!parse_fd_list(value, h.listen, &h.n_listen)) return false;
    } else if (key == "own" && h.n_own == 0) {
      if (!parse_fd_list(value, h.own, &h.n_own)) return false;
    } else {
      return false;
    }
  }
  if (!saw_pid || !saw_gen || has_duplicate_fds(h)) return false;
  *out = h;
  return true;
}

}  // namespace huptime
