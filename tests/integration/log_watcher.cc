#include "log_watcher.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

namespace huptime::test {
namespace {

constexpr size_t kMaxLine = 4096;
constexpr std::string_view kLibraryPrefix = "huptime[";

}  // namespace

LogWatcher::LogWatcher(int fd, std::optional<std::regex> also_keep,
                       std::optional<std::regex> forbidden)
    : fd_(fd),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      also_keep_(std::move(also_keep)),
      forbidden_(std::move(forbidden)) {
  thread_ = std::thread(&LogWatcher::run, this);
}

LogWatcher::~LogWatcher() {
  stop();
  close(stop_fd_);
  close(fd_);
}

void LogWatcher::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(stop_fd_, &one, sizeof one);
  thread_.join();
  if (other_lines_ <= kMirrorOther) return;
  size_t hidden = other_lines_ - kMirrorOther - last_other_.size();
  if (hidden > 0)
    fmt::print(stderr, "  | ({} more lines of service output not shown)\n",
               hidden);
  for (const std::string& line : last_other_)
    fmt::print(stderr, "  | {}\n", line);
}

std::optional<std::string> LogWatcher::forbidden_line() const {
  std::lock_guard lock(mutex_);
  return forbidden_line_;
}

size_t LogWatcher::size() const {
  std::lock_guard lock(mutex_);
  return lines_.size();
}

void LogWatcher::run() {
  std::string pending;
  char chunk[4096];
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!fds[0].revents) continue;
    ssize_t got = read(fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    pending.append(chunk, static_cast<size_t>(got));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      take_line(pending.substr(0, eol));
      pending.erase(0, eol + 1);
    }
    if (pending.size() > kMaxLine) take_line(std::exchange(pending, ""));
  }
  if (!pending.empty()) take_line(pending);
  std::lock_guard lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

void LogWatcher::take_line(std::string line) {
  if (line.size() > kMaxLine) line.resize(kMaxLine);
  bool library = line.find(kLibraryPrefix) != std::string::npos ||
                 (also_keep_ && std::regex_search(line, *also_keep_));
  if (library || ++other_lines_ <= kMirrorOther)
    fmt::print(stderr, "  | {}\n", line);
  if (!library && forbidden_ && std::regex_search(line, *forbidden_)) {
    std::lock_guard lock(mutex_);
    if (!forbidden_line_) forbidden_line_ = line;
  }
  if (!library) {
    if (other_lines_ <= kMirrorOther) return;
    last_other_.push_back(std::move(line));
    if (last_other_.size() > kShowLastOther) last_other_.pop_front();
    return;
  }
  std::lock_guard lock(mutex_);
  lines_.push_back(std::move(line));
  changed_.notify_all();
}

std::optional<LogMatch> LogWatcher::wait_for(
    const std::vector<std::regex>& patterns, size_t from,
    const Deadline& deadline) const {
  std::unique_lock lock(mutex_);
  for (size_t next = from;;) {
    for (; next < lines_.size(); ++next) {
      for (size_t p = 0; p < patterns.size(); ++p) {
        std::smatch match;
        if (!std::regex_search(lines_[next], match, patterns[p])) continue;
        LogMatch found{next, p, {}, lines_[next]};
        for (const auto& group : match) found.groups.push_back(group.str());
        return found;
      }
    }
    if (eof_ || deadline.expired()) return std::nullopt;
    changed_.wait_until(lock, deadline.when());
  }
}

void LogWatcher::wait_new_line(size_t seen, const Deadline& deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline.when(),
                      [&] { return lines_.size() > seen || eof_; });
}

}  // namespace huptime::test
