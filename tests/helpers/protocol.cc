#include "protocol.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace huptime::test {
namespace {

// Reads one "\r\n"-terminated line from *raw (consumed); nullopt when the
// terminator has not arrived.
std::optional<std::string_view> take_line(std::string_view* raw) {
  size_t end = raw->find("\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = raw->substr(0, end);
  raw->remove_prefix(end + 2);
  return line;
}

std::optional<long> parse_count(std::string_view text) {
  long value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

JudgedResponse verdict(Verdict kind, std::string reason) {
  JudgedResponse judged;
  judged.verdict = kind;
  judged.reason = std::move(reason);
  return judged;
}

// One "$N\r\nDATA\r\n" from *raw into *value.
std::optional<JudgedResponse> take_bulk(std::string_view* raw,
                                        std::string_view* value) {
  auto head = take_line(raw);
  if (!head) return verdict(Verdict::kIncomplete, "bulk string cut short");
  if (head->empty() || head->front() != '$')
    return verdict(Verdict::kBadStatus,
                   fmt::format("expected a bulk string, got '{}'", *head));
  auto length = parse_count(head->substr(1));
  if (!length || *length < 0)
    return verdict(Verdict::kBadStatus,
                   fmt::format("bad bulk string header '{}'", *head));
  size_t size = static_cast<size_t>(*length);
  if (raw->size() < size + 2)
    return verdict(Verdict::kIncomplete, "bulk string cut short");
  if (raw->substr(size, 2) != "\r\n")
    return verdict(Verdict::kBadStatus, "bulk string not ended by CRLF");
  *value = raw->substr(0, size);
  raw->remove_prefix(size + 2);
  return std::nullopt;
}

// The command's reply: a simple string, a bulk string or an array of bulk
// strings; *last is the (last) string.
std::optional<JudgedResponse> take_reply(std::string_view* raw,
                                         std::string_view* last) {
  if (raw->empty()) return verdict(Verdict::kIncomplete, "no reply");
  if (raw->front() == '$') return take_bulk(raw, last);
  if (raw->front() == '+') {  // a simple string: "+Background saving..."
    auto line = take_line(raw);
    if (!line) return verdict(Verdict::kIncomplete, "status reply cut short");
    *last = line->substr(1);
    return std::nullopt;
  }
  if (raw->front() != '*') {
    std::string_view copy = *raw;
    auto line = take_line(&copy);
    return verdict(
        Verdict::kBadStatus,
        fmt::format("reply '{}'", line ? *line : copy.substr(0, 80)));
  }
  auto head = take_line(raw);
  if (!head) return verdict(Verdict::kIncomplete, "array header cut short");
  auto count = parse_count(head->substr(1));
  if (!count || *count < 1 || *count > 64)
    return verdict(Verdict::kBadStatus,
                   fmt::format("bad or empty array '{}'", *head));
  for (long i = 0; i < *count; ++i)
    if (auto failed = take_bulk(raw, last)) return failed;
  return std::nullopt;
}

JudgedResponse judge_redis(std::string_view raw, std::string* body_storage) {
  std::string_view last;
  if (auto failed = take_reply(&raw, &last)) return *failed;
  constexpr std::string_view kQuitReply = "+OK\r\n";
  if (raw != kQuitReply && kQuitReply.starts_with(raw))
    return verdict(Verdict::kIncomplete, "no +OK from QUIT before EOF");
  if (raw != kQuitReply)
    return verdict(
        Verdict::kBadStatus,
        fmt::format("after the reply: '{}' instead of +OK", raw.substr(0, 80)));
  *body_storage = std::string(last) + "\n";
  JudgedResponse judged;
  judged.verdict = Verdict::kOk;
  judged.body = *body_storage;
  return judged;
}

}  // namespace

bool parse_protocol(std::string_view text, Protocol* protocol) {
  if (text == "http")
    *protocol = Protocol::kHttp;
  else if (text == "redis")
    *protocol = Protocol::kRedis;
  else
    return false;
  return true;
}

std::string make_protocol_request(Protocol protocol, std::string_view path) {
  if (protocol == Protocol::kHttp) return make_request(path);
  return fmt::format("{}\r\nQUIT\r\n", path);
}

JudgedResponse judge_protocol_response(Protocol protocol, std::string_view raw,
                                       std::string* body_storage) {
  if (protocol == Protocol::kHttp) return judge_response(raw);
  return judge_redis(raw, body_storage);
}

}  // namespace huptime::test
