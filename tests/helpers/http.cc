#include "http.h"

#include <fmt/format.h>
#include <strings.h>

#include <charconv>
#include <optional>

namespace huptime::test {
namespace {

constexpr std::string_view kHeadEnd = "\r\n\r\n";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// The value of Content-Length in a response head (status line excluded),
// nullopt when absent; -1 when present but not a number.
std::optional<long long> content_length(std::string_view headers) {
  constexpr std::string_view kName = "content-length:";
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? "" : headers.substr(eol + 2);
    if (line.size() < kName.size() ||
        strncasecmp(line.data(), kName.data(), kName.size()) != 0)
      continue;
    std::string_view value = trim(line.substr(kName.size()));
    long long length = -1;
    auto [end, ec] =
        std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec != std::errc() || end != value.data() + value.size() || length < 0)
      return -1;
    return length;
  }
  return std::nullopt;
}

}  // namespace

std::string make_response(std::string_view body) {
  return fmt::format(
      "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
}

std::string make_request(std::string_view path) {
  return fmt::format("GET {} HTTP/1.0\r\nHost: x\r\n\r\n", path);
}

bool request_complete(std::string_view data) {
  return data.find(kHeadEnd) != std::string_view::npos;
}

JudgedResponse judge_response(std::string_view raw) {
  JudgedResponse judged;
  size_t head_end = raw.find(kHeadEnd);
  if (head_end == std::string_view::npos) {
    judged.verdict = Verdict::kIncomplete;
    judged.reason = fmt::format(
        "EOF after {} bytes, before the end of the "
        "response head",
        raw.size());
    return judged;
  }
  std::string_view head = raw.substr(0, head_end + 2);
  size_t status_end = head.find("\r\n");
  std::string_view status = head.substr(0, status_end);
  if (status != "HTTP/1.0 200 OK" && status != "HTTP/1.1 200 OK") {
    judged.reason = fmt::format("status line '{}'", status.substr(0, 80));
    return judged;
  }
  std::string_view body = raw.substr(head_end + kHeadEnd.size());
  auto length = content_length(head.substr(status_end + 2));
  if (length && *length < 0) {
    judged.reason = "malformed Content-Length";
    return judged;
  }
  if (length && static_cast<size_t>(*length) != body.size()) {
    bool short_body = static_cast<size_t>(*length) > body.size();
    judged.verdict = short_body ? Verdict::kIncomplete : Verdict::kBadStatus;
    judged.reason = fmt::format("Content-Length {} but body of {} bytes",
                                *length, body.size());
    return judged;
  }
  judged.verdict = Verdict::kOk;
  judged.body = body;
  return judged;
}

}  // namespace huptime::test
