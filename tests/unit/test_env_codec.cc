// lib/env_codec: string lists as netstrings inside one environment variable.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "env_codec.h"

using namespace huptime;
using namespace std::string_literals;

namespace {

using List = std::vector<std::string>;

// encode → decode must give back exactly the input.
void check_round_trip(const List& items) {
  std::string text = encode_list(items);
  auto decoded = decode_list(text);
  INFO("encoded: " << text);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == items);
}

}  // namespace

TEST_CASE("env_codec: encoding is the netstring form", "[env_codec]") {
  CHECK(encode_list({}) == "");
  CHECK(encode_list({""}) == "0:,");
  CHECK(encode_list({"abc"}) == "3:abc,");
  CHECK(encode_list({"a", "", "bc"}) == "1:a,0:,2:bc,");
  CHECK(encode_list({std::string(12, 'x')}) ==
        "12:" + std::string(12, 'x') + ",");
}

TEST_CASE("env_codec: round trips", "[env_codec]") {
  check_round_trip({});
  check_round_trip({""});
  check_round_trip({"", "", ""});
  check_round_trip({"server", "--port", "8080"});
  check_round_trip({"a:b", "c,d", "e=f", "1:x,", ":", ",", "="});
  check_round_trip({"line one\nline two\n", "\r\t", " leading space"});
  check_round_trip({"3:abc,", "0:,", "9999999999:"});  // looks encoded
  check_round_trip({"\xff\xfe\x80 bytes"});
  check_round_trip(
      {std::string(100'000, 'L'), "short", std::string(4096, ',')});
}

TEST_CASE("env_codec: an empty text is an empty list", "[env_codec]") {
  auto decoded = decode_list("");
  REQUIRE(decoded.has_value());
  CHECK(decoded->empty());
}

TEST_CASE("env_codec: malformed lists are rejected", "[env_codec]") {
  const char* const kBad[] = {
      "3abc,",     // missing colon
      "abc",       // no length at all
      ":abc,",     // empty length
      "3:abc",     // missing comma
      "3:abc;",    // wrong terminator
      "5:abc,",    // length too long
      "4:abc,",    // length too long by one (',' taken as data)
      "2:abc,",    // length too short
      "0:a,",      // length too short (zero)
      "x:abc,",    // non-digit length
      "3x:abc,",   // trailing non-digit in length
      "-3:abc,",   // sign
      "+3:abc,",   // sign
      " 3:abc,",   // leading space
      "0x3:abc,",  // hex
      "garbage3:abc,",
      "3:abc,x",                     // trailing byte
      "3:abc,,",                     // trailing comma
      "3:abc,3",                     // truncated second item
      "3:abc,3:",                    // truncated second item
      "3:abc,3:de",                  // truncated second item
      "1234567890:x,",               // length with too many digits
      "99999999999999999999999:x,",  // length overflows
      ",",
      ":",
      "0:",
  };
  for (const char* text : kBad) {
    INFO("text: \"" << text << "\"");
    CHECK_FALSE(decode_list(text).has_value());
  }
}

TEST_CASE("env_codec: a NUL byte is data, not an end", "[env_codec]") {
  // decode_list takes a string_view: a NUL inside is part of an item and a
  // NUL after the last comma is a trailing byte.
  auto decoded = decode_list("3:a\0b,"s);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == List{"a\0b"s});
  CHECK_FALSE(decode_list("3:abc,\0"s).has_value());
}

TEST_CASE("env_codec: at most max_items elements", "[env_codec]") {
  List three = {"a", "b", "c"};
  std::string text = encode_list(three);
  CHECK(decode_list(text, 3) == three);
  CHECK(decode_list(text, 4) == three);
  CHECK_FALSE(decode_list(text, 2).has_value());
  CHECK_FALSE(decode_list(text, 0).has_value());
  CHECK(decode_list("", 0) == List{});

  List many(4096, "x");
  CHECK(decode_list(encode_list(many)) == many);  // the default limit
  many.push_back("one too many");
  CHECK_FALSE(decode_list(encode_list(many)).has_value());
}

// Netstrings (https://cr.yp.to/proto/netstrings.txt) forbid leading zeros
// in the length: "03:abc," is not the encoding of {"abc"}, and accepting it
// gives one list many encodings. encode_list never writes one.
TEST_CASE("env_codec: lengths with leading zeros are rejected", "[env_codec]") {
  CHECK(decode_list("0:,").has_value());
  CHECK_FALSE(decode_list("03:abc,").has_value());
  CHECK_FALSE(decode_list("00:,").has_value());
}
