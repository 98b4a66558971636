#include "load.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "http.h"

namespace huptime::test {

LoadRun::LoadRun(LoadConfig config)
    : config_(std::move(config)),
      request_(make_protocol_request(config_.protocol, config_.path)),
      stats_(config_.expect_monotonic) {
  config_.duration = std::min(config_.duration, kMaxDuration);
  config_.clients = std::max(config_.clients, 1);
  if (config_.targets.empty())
    throw std::invalid_argument("LoadRun: no target");
  for (SockSpec& target : config_.targets) target = client_view(target);
  done_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (done_fd_ < 0) std::abort();
}

LoadRun::~LoadRun() {
  stop();
  close(done_fd_);
}

void LoadRun::start() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited by the threads
  {
    std::lock_guard lock(mutex_);
    stats_ = LoadStats(config_.expect_monotonic);
    running_ = config_.clients;
  }
  end_ = Clock::now() + config_.duration;
  for (int i = 0; i < config_.clients; ++i)
    threads_.emplace_back(&LoadRun::client_loop, this, static_cast<size_t>(i));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void LoadRun::stop() {
  stop_ = true;
  changed_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

LoadStats LoadRun::snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void LoadRun::mark_stale(std::string_view body, Clock::time_point since) {
  std::lock_guard lock(mutex_);
  stats_.mark_stale(body, since);
}

bool LoadRun::wait_until(const std::function<bool(const LoadStats&)>& pred,
                         const Deadline& deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline.when(),
                      [&] { return pred(stats_) || running_ == 0; });
  return pred(stats_);
}

bool LoadRun::claim_request() {
  if (stop_ || Clock::now() >= end_) return false;
  if (!config_.max_requests) return true;
  return claimed_.fetch_add(1) < *config_.max_requests;
}

void LoadRun::pause_between() {
  if (config_.delay_between.count() <= 0) return;
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, config_.delay_between, [&] { return stop_.load(); });
}

void LoadRun::client_loop(size_t index) {
  const SockSpec& target = config_.targets[index % config_.targets.size()];
  while (claim_request()) {
    RequestResult result = run_request(
        target, request_, config_.request_timeout, config_.protocol);
    {
      std::lock_guard lock(mutex_);
      stats_.record(result);
    }
    changed_.notify_all();
    pause_between();
  }
  client_finished();
}

void LoadRun::client_finished() {
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    last = --running_ == 0;
  }
  changed_.notify_all();
  if (!last) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(done_fd_, &one, sizeof one);
}

}  // namespace huptime::test
