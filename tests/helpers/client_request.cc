#include "client_request.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "http.h"

namespace huptime::test {
namespace {

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

RequestResult failure(RequestResult result, Outcome outcome,
                      std::string error) {
  result.outcome = outcome;
  result.error = std::move(error);
  result.end = Clock::now();
  return result;
}

std::string errno_text(const char* call, int error) {
  return fmt::format("{}: {}", call, std::strerror(error));
}

// SO_SNDTIMEO bounds a blocking connect(2) and send(2).
void set_send_timeout(int fd, const Deadline& deadline) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    deadline.remaining())
                    .count();
  micros = std::max<long long>(micros, 1000);
  timeval tv{static_cast<time_t>(micros / 1'000'000),
             static_cast<suseconds_t>(micros % 1'000'000)};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Sends everything; 0 or an errno.
int send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return errno;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return 0;
}

// Reads to EOF into *raw; returns the failure, or nullopt at EOF.
std::optional<std::pair<Outcome, std::string>> read_to_eof(
    int fd, const Deadline& deadline, std::string* raw) {
  char chunk[16384];
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.poll_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0)
      return std::pair{Outcome::kTimeout,
                       fmt::format("no EOF after {} bytes", raw->size())};
    ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0)
      return std::pair{Outcome::kReset,
                       fmt::format("{} after {} bytes",
                                   errno_text("recv", errno), raw->size())};
    if (got == 0) return std::nullopt;
    raw->append(chunk, static_cast<size_t>(got));
    if (raw->size() > kMaxResponse)
      return std::pair{Outcome::kBadStatus, std::string("response too large")};
  }
}

}  // namespace

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kReset:
      return "reset";
    case Outcome::kEof:
      return "eof";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kBadStatus:
      return "badstatus";
  }
  return "?";
}

RequestResult run_request(const SockSpec& target, std::string_view request,
                          Clock::duration timeout, Protocol protocol) {
  RequestResult result;
  result.start = Clock::now();
  Deadline deadline(timeout);
  FdCloser sock{socket(target.family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0)
    return failure(result, Outcome::kRefused, errno_text("socket", errno));
  set_send_timeout(sock.fd, deadline);
  if (connect(sock.fd, reinterpret_cast<const sockaddr*>(&target.addr),
              target.addr_len) != 0) {
    int error = errno;
    bool timed_out = (error == EINPROGRESS || error == EAGAIN ||
                      error == ETIMEDOUT || error == EINTR) &&
                     deadline.expired();
    return failure(result, timed_out ? Outcome::kTimeout : Outcome::kRefused,
                   errno_text("connect", error));
  }
  if (int error = send_all(sock.fd, request)) {
    Outcome outcome = deadline.expired() ? Outcome::kTimeout : Outcome::kReset;
    return failure(result, outcome, errno_text("send", error));
  }
  std::string raw;
  if (auto failed = read_to_eof(sock.fd, deadline, &raw))
    return failure(result, failed->first, failed->second);
  std::string body_storage;
  JudgedResponse judged = judge_protocol_response(protocol, raw, &body_storage);
  if (judged.verdict == Verdict::kIncomplete)
    return failure(result, Outcome::kEof, judged.reason);
  if (judged.verdict == Verdict::kBadStatus)
    return failure(result, Outcome::kBadStatus, judged.reason);
  result.body = std::string(judged.body);
  result.end = Clock::now();
  return result;
}

}  // namespace huptime::test
