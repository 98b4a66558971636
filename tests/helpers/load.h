// Closed-loop load: N client threads, each sending one request at a time
// (connect, GET, read to EOF) for as long as the run lasts. Used by the
// loadclient CLI and, in-process, by the integration driver, which watches
// the statistics while it reloads the service under test.
//
// Every run is bounded: by --requests, by --duration, and in any case by
// kMaxDuration; every request by its own timeout.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "deadline.h"
#include "load_stats.h"
#include "protocol.h"
#include "sockspec.h"

namespace huptime::test {

inline constexpr Clock::duration kMaxDuration = std::chrono::seconds(600);

struct LoadConfig {
  std::vector<SockSpec> targets;  // client i uses targets[i % size]
  int clients = 8;
  std::string path = "/";  // redis: the command (see protocol.h)
  Protocol protocol = Protocol::kHttp;
  std::optional<uint64_t> max_requests;        // total, over all clients
  Clock::duration duration = kMaxDuration;     // capped at kMaxDuration
  std::chrono::milliseconds delay_between{0};  // pause after each request
  std::chrono::milliseconds request_timeout{10'000};
  bool expect_monotonic = false;
};

class LoadRun {
 public:
  explicit LoadRun(LoadConfig config);
  ~LoadRun();  // stops the run
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  // Starts the client threads (with every signal blocked: signals are for
  // the caller's thread).
  void start();

  // Asks the clients to stop after their current request and joins them;
  // bounded by the request timeout.
  void stop();

  // An eventfd that becomes readable once every client thread has finished
  // (duration over, request budget spent, or stopped).
  int done_fd() const { return done_fd_; }

  LoadStats snapshot() const;

  // See LoadStats::mark_stale.
  void mark_stale(std::string_view body, Clock::time_point since);

  // Waits until `pred(stats)` holds (evaluated under the lock after each
  // request), the deadline passes or every client has finished. Returns
  // the last value of the predicate.
  bool wait_until(const std::function<bool(const LoadStats&)>& pred,
                  const Deadline& deadline) const;

 private:
  void client_loop(size_t index);
  bool claim_request();
  void pause_between();
  void client_finished();

  LoadConfig config_;
  std::string request_;
  Clock::time_point end_;
  int done_fd_ = -1;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  LoadStats stats_;  // guarded by mutex_
  int running_ = 0;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> claimed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace huptime::test
