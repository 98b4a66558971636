#include "stderr_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include "raw_syscall.h"

// close and fcntl go through raw system calls: in the preloaded library
// their libc names are our own hooks, and this fd is not the program's.

namespace huptime {

namespace {

constexpr int64_t kMaxRead = 64 * 1024;
constexpr size_t kMaxLineBytes = 200;

void close_fd(int fd) {
  if (fd >= 0) raw_syscall6(SYS_close, fd);
}

// fd 2 itself when it can be read; otherwise a read-only reopening of the
// same file (checked by device and inode), or -1.
int readable_stderr(const struct stat& st) {
  long flags = raw_syscall6(SYS_fcntl, 2, F_GETFL);
  if (flags >= 0 && (flags & O_ACCMODE) != O_WRONLY) return 2;
  int fd = open("/proc/self/fd/2", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0 && fd < 3) {
    int moved =
        static_cast<int>(raw_syscall6(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3));
    close_fd(fd);
    fd = moved;
  }
  struct stat again;
  if (fd >= 0 && (fstat(fd, &again) != 0 || again.st_dev != st.st_dev ||
                  again.st_ino != st.st_ino)) {
    close_fd(fd);
    fd = -1;
  }
  return fd < 0 ? -1 : fd;
}

// [start, end) of fd's file; shorter if the file is.
std::string read_range(int fd, int64_t start, int64_t end) {
  std::string data(static_cast<size_t>(end - start), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = pread(fd, data.data() + got, data.size() - got,
                      static_cast<off_t>(start) + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

// Trimmed to kMaxLineBytes without splitting a UTF-8 sequence, control
// characters (escape sequences, '\r') made spaces, trailing spaces gone.
std::string clean_line(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    size_t cut = kMaxLineBytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80)
      --cut;
    line = line.substr(0, cut);
  }
  std::string out(line);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The last max_lines non-blank lines of text not logged by this process.
std::string last_lines(std::string_view text, int max_lines) {
  std::string own = "huptime[" + std::to_string(getpid()) + "]:";
  std::vector<std::string> picked;
  while (!text.empty() && static_cast<int>(picked.size()) < max_lines) {
    if (text.back() == '\n') text.remove_suffix(1);
    size_t nl = text.rfind('\n');
    size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
    std::string_view line = text.substr(begin);
    text = text.substr(0, begin);
    if (line.substr(0, own.size()) == own) continue;
    std::string cleaned = clean_line(line);
    if (cleaned.find_first_not_of(' ') != std::string::npos)
      picked.push_back(std::move(cleaned));
  }
  std::string out;
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
    if (!out.empty()) out += " | ";
    out += *it;
  }
  return out;
}

}  // namespace

int64_t stderr_mark() {
  struct stat st;
  if (fstat(2, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

std::string stderr_tail_since(int64_t mark, int max_lines) {
  struct stat st;
  if (mark < 0 || max_lines <= 0 || fstat(2, &st) != 0 || !S_ISREG(st.st_mode))
    return {};
  auto size = static_cast<int64_t>(st.st_size);
  if (size <= mark) return {};
  int64_t start = std::max(mark, size - kMaxRead);
  int fd = readable_stderr(st);
  if (fd < 0) return {};
  std::string data = read_range(fd, start, size);
  if (fd != 2) close_fd(fd);
  std::string_view text = data;
  // Started inside a line: drop its end, unless it is all there is.
  if (start > mark) {
    size_t nl = text.find('\n');
    if (nl != std::string_view::npos) text.remove_prefix(nl + 1);
  }
  return last_lines(text, max_lines);
}

}  // namespace huptime
