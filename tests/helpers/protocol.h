// What the load client speaks: the tests' little HTTP (http.h), or just
// enough of redis's protocol (RESP) to ask redis-server one question per
// connection.
//
// Redis keeps connections open, and the load client's model is one request
// per connection, read to EOF. So a redis "request" is an inline command
// (the --path text, e.g. "CONFIG GET masteruser") followed by QUIT, which
// redis answers with +OK and then closes. The judged body is the last bulk
// string of the command's reply plus "\n", so that a value "version 3 of
// NAME" compares equal to the driver's body text for version 3.
#pragma once

#include <string>
#include <string_view>

#include "http.h"

namespace huptime::test {

enum class Protocol { kHttp, kRedis };

// "http" or "redis"; false for anything else.
bool parse_protocol(std::string_view text, Protocol* protocol);

// HTTP: make_request(path). Redis: "PATH\r\nQUIT\r\n".
std::string make_protocol_request(Protocol protocol, std::string_view path);

// HTTP: judge_response(raw), whose body points into `raw`. Redis: one
// reply (a simple or bulk string, or an array of bulk strings), then "+OK\r\n"
// from QUIT, then nothing; the body is built in *body_storage and points there.
// An error reply or anything malformed is kBadStatus; a reply cut short is
// kIncomplete.
JudgedResponse judge_protocol_response(Protocol protocol, std::string_view raw,
                                       std::string* body_storage);

}  // namespace huptime::test
