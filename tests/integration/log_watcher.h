// Reads the service's stderr on a thread of its own, so that the service
// never blocks on a full pipe, mirrors it to the driver's stderr, and lets
// the driver wait, with a deadline, for a library log line that matches one
// of some patterns.
//
// Only lines that contain "huptime[" (the library's prefix), or that match
// the `also_keep` pattern given at construction, are kept and indexed;
// other output (python's http.server logs every request) is
// mirrored for the first kMirrorOther lines, then only counted; the last
// kShowLastOther of those are shown when the watcher stops (the service's
// own last words before a failure).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "deadline.h"

namespace huptime::test {

struct LogMatch {
  size_t index = 0;                 // of the line among the kept lines
  size_t pattern = 0;               // which of the patterns matched
  std::vector<std::string> groups;  // [0] is the whole match
  std::string line;
};

class LogWatcher {
 public:
  static constexpr size_t kMirrorOther = 50;
  static constexpr size_t kShowLastOther = 20;

  // Takes ownership of `fd`, the read end of the service's stderr pipe.
  explicit LogWatcher(int fd, std::optional<std::regex> also_keep = {},
                      std::optional<std::regex> forbidden = {});
  ~LogWatcher();
  LogWatcher(const LogWatcher&) = delete;
  LogWatcher& operator=(const LogWatcher&) = delete;

  // The number of kept lines so far: a cursor for wait_for().
  size_t size() const;

  // The first kept line at index >= `from` that matches one of `patterns`
  // (std::regex_search), waiting for more lines until the deadline or EOF.
  std::optional<LogMatch> wait_for(const std::vector<std::regex>& patterns,
                                   size_t from, const Deadline& deadline) const;

  // Returns when there are more than `seen` kept lines, at EOF, or at the
  // deadline.
  void wait_new_line(size_t seen, const Deadline& deadline) const;

  // The first line of the service's output that matched `forbidden`.
  std::optional<std::string> forbidden_line() const;

  // Stops reading and joins the thread.
  void stop();

 private:
  void run();
  void take_line(std::string line);

  int fd_;
  int stop_fd_;
  std::optional<std::regex> also_keep_;
  std::optional<std::regex> forbidden_;
  std::optional<std::string> forbidden_line_;  // guarded by mutex_
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<std::string> lines_;      // guarded by mutex_
  bool eof_ = false;                    // guarded by mutex_
  size_t other_lines_ = 0;              // reader thread only
  std::deque<std::string> last_other_;  // reader thread; read after join
  std::thread thread_;
};

}  // namespace huptime::test
