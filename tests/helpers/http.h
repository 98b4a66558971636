// The little HTTP the tests speak, on both sides.
//
// Servers read a request head up to "\r\n\r\n" and answer one fixed HTTP/1.0
// response with Connection: close. The load client sends one HTTP/1.0 GET,
// reads to EOF and judges what came back. Other servers under test (python's
// http.server, node) answer with other header sets and sometimes HTTP/1.1,
// so the judgement accepts any header set: status line exactly "HTTP/1.0 200
// OK" or "HTTP/1.1 200 OK", and Content-Length, when present, equal to the
// body length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace huptime::test {

inline constexpr size_t kMaxRequestHead = 8192;
inline constexpr size_t kMaxResponse = 1 << 20;

// "HTTP/1.0 200 OK\r\nContent-Length: N\r\nConnection: close\r\n\r\n" + body
std::string make_response(std::string_view body);

// "GET PATH HTTP/1.0\r\nHost: x\r\n\r\n"
std::string make_request(std::string_view path);

// True once `data` holds a whole request head.
bool request_complete(std::string_view data);

enum class Verdict {
  kOk,          // a whole 200 response
  kIncomplete,  // EOF before the head or the announced body was complete
  kBadStatus,   // anything else: other status, malformed, body too long
};

struct JudgedResponse {
  Verdict verdict = Verdict::kBadStatus;
  std::string_view body;  // points into the judged text; valid when kOk
  std::string reason;     // why it is not kOk
};

// Judges everything a client read from a connection up to EOF.
JudgedResponse judge_response(std::string_view raw);

}  // namespace huptime::test
