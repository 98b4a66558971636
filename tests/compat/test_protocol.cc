// The redis side of the load client's protocol (tests/helpers/protocol.h):
// the compat suite's redis cases trust it to tell a served version from an
// error, so it must reject what redis answers when it is not serving.
#include <catch2/catch.hpp>

#include "protocol.h"

using namespace huptime::test;

namespace {

JudgedResponse judge(std::string_view raw, std::string* storage) {
  return judge_protocol_response(Protocol::kRedis, raw, storage);
}

}  // namespace

TEST_CASE("a CONFIG GET reply and QUIT's +OK give the value as the body") {
  std::string storage;
  auto judged = judge(
      "*2\r\n$10\r\nmasteruser\r\n$14\r\nversion 3 of x\r\n+OK\r\n", &storage);
  REQUIRE(judged.verdict == Verdict::kOk);
  CHECK(judged.body == "version 3 of x\n");
}

TEST_CASE("simple and bulk string replies are accepted") {
  std::string storage;
  auto bgsave = judge("+Background saving started\r\n+OK\r\n", &storage);
  REQUIRE(bgsave.verdict == Verdict::kOk);
  CHECK(bgsave.body == "Background saving started\n");
  auto bulk = judge("$2\r\nhi\r\n+OK\r\n", &storage);
  REQUIRE(bulk.verdict == Verdict::kOk);
  CHECK(bulk.body == "hi\n");
}

TEST_CASE("error replies fail, LOADING included") {
  std::string storage;
  CHECK(judge("-LOADING Redis is loading the dataset in memory\r\n", &storage)
            .verdict == Verdict::kBadStatus);
  CHECK(judge("-ERR unknown command\r\n+OK\r\n", &storage).verdict ==
        Verdict::kBadStatus);
  CHECK(judge(":1\r\n+OK\r\n", &storage).verdict == Verdict::kBadStatus);
}

TEST_CASE("a reply cut short, or EOF before +OK, is incomplete") {
  std::string storage;
  CHECK(judge("", &storage).verdict == Verdict::kIncomplete);
  CHECK(judge("*2\r\n$10\r\nmasteruser\r\n$14\r\nversion", &storage).verdict ==
        Verdict::kIncomplete);
  CHECK(judge("$2\r\nhi\r\n", &storage).verdict == Verdict::kIncomplete);
  CHECK(judge("$2\r\nhi\r\n+O", &storage).verdict == Verdict::kIncomplete);
}

TEST_CASE("anything after +OK, or a malformed bulk string, is bad") {
  std::string storage;
  CHECK(judge("$2\r\nhi\r\n+OK\r\n+OK\r\n", &storage).verdict ==
        Verdict::kBadStatus);
  CHECK(judge("$2\r\nhiX\r\n+OK\r\n", &storage).verdict == Verdict::kBadStatus);
  CHECK(judge("*0\r\n+OK\r\n", &storage).verdict == Verdict::kBadStatus);
}

TEST_CASE("the redis request is the inline command and QUIT") {
  CHECK(make_protocol_request(Protocol::kRedis, "CONFIG GET masteruser") ==
        "CONFIG GET masteruser\r\nQUIT\r\n");
  Protocol protocol = Protocol::kHttp;
  CHECK(parse_protocol("redis", &protocol));
  CHECK(protocol == Protocol::kRedis);
  CHECK_FALSE(parse_protocol("gopher", &protocol));
}
