// lib/handoff: the HUPTIME_FDS value passed from one generation to the next.
#include <catch2/catch.hpp>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

#include "handoff.h"

using namespace huptime;

namespace {

// Handoff is ~4 KiB; keep copies off the test's stack.
std::unique_ptr<Handoff> full_handoff() {
  auto h = std::make_unique<Handoff>();
  h->pid = 12345;
  h->generation = 3;
  h->ready_fd = 7;
  h->state_fd = 5;
  h->latch_fd = 6;
  h->svc_fd = 8;
  h->master_fd = 10;
  h->n_listen = 2;
  h->listen[0] = {3, 81234};
  h->listen[1] = {4, 81240};
  h->n_own = 1;
  h->own[0] = {9, 81300};
  return h;
}

std::string encode(const Handoff& h) {
  char buf[8192];
  size_t n = encode_handoff(h, buf, sizeof buf);
  REQUIRE(n > 0);
  REQUIRE(std::strlen(buf) == n);
  return std::string(buf, n);
}

bool decodes(std::string_view text) {
  auto h = std::make_unique<Handoff>();
  return decode_handoff(text, h.get());
}

// "3:1001,4:1002,..." with n entries starting at fd `first`.
std::string fd_list(int n, int first = 3) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    out += std::to_string(first + i) + ":" + std::to_string(1000 + i);
  }
  return out;
}

const std::string kHead = "v1;pid=0000012345;gen=3";

}  // namespace

TEST_CASE("handoff: the documented encoding", "[handoff]") {
  CHECK(encode(*full_handoff()) ==
        "v1;pid=0000012345;gen=3;ready=7;state=5,6;svc=8;master=10;"
        "listen=3:81234,4:81240;own=9:81300");
  Handoff minimal;
  minimal.pid = 1;
  CHECK(encode(minimal) == "v1;pid=0000000001;gen=1");
  // A state fd without its latch is not written.
  minimal.state_fd = 5;
  CHECK(encode(minimal) == "v1;pid=0000000001;gen=1");
}

TEST_CASE("handoff: round trip with every field", "[handoff]") {
  auto h = full_handoff();
  h->pid = INT_MAX;
  h->generation = UINT32_MAX;
  h->n_listen = Handoff::kMaxFds;
  for (int i = 0; i < Handoff::kMaxFds; ++i)
    h->listen[i] = {100 + i, UINT64_MAX - static_cast<uint64_t>(i)};
  std::string text = encode(*h);
  auto out = std::make_unique<Handoff>();
  REQUIRE(decode_handoff(text, out.get()));
  CHECK(out->pid == h->pid);
  CHECK(out->generation == h->generation);
  CHECK(out->ready_fd == 7);
  CHECK(out->state_fd == 5);
  CHECK(out->latch_fd == 6);
  CHECK(out->svc_fd == 8);
  CHECK(out->master_fd == 10);
  REQUIRE(out->n_listen == Handoff::kMaxFds);
  for (int i = 0; i < Handoff::kMaxFds; ++i) {
    CHECK(out->listen[i].fd == h->listen[i].fd);
    CHECK(out->listen[i].inode == h->listen[i].inode);
  }
  REQUIRE(out->n_own == 1);
  CHECK(out->own[0].fd == 9);
  CHECK(out->own[0].inode == 81300);
}

TEST_CASE("handoff: optional fields stay unset", "[handoff]") {
  auto out = std::make_unique<Handoff>();
  REQUIRE(decode_handoff("v1;pid=0000000042;gen=1", out.get()));
  CHECK(out->pid == 42);
  CHECK(out->generation == 1);
  CHECK(out->ready_fd == -1);
  CHECK(out->state_fd == -1);
  CHECK(out->latch_fd == -1);
  CHECK(out->n_listen == 0);
  CHECK(out->n_own == 0);
  // Field order is free and the pid need not be padded.
  REQUIRE(decode_handoff("v1;own=4:2;gen=2;listen=3:1;pid=7", out.get()));
  CHECK(out->pid == 7);
  CHECK(out->n_listen == 1);
  CHECK(out->n_own == 1);
}

TEST_CASE("handoff: the pid field is fixed width and patchable", "[handoff]") {
  Handoff h;  // pid 0: written as zeros, patched in the child
  char buf[256];
  size_t n = encode_handoff(h, buf, sizeof buf);
  REQUIRE(n > 0);
  CHECK(std::string(buf) == "v1;pid=0000000000;gen=1");
  CHECK_FALSE(decodes(buf));  // pid 0 is nobody

  for (pid_t pid : {1, 4194304, 999999999, INT_MAX}) {
    INFO("pid " << pid);
    REQUIRE(patch_handoff_pid(buf, pid));
    CHECK(std::strlen(buf) == n);
    Handoff out;
    REQUIRE(decode_handoff(buf, &out));
    CHECK(out.pid == pid);
  }
  h.pid = -5;  // negative pids are written as zeros too
  REQUIRE(encode_handoff(h, buf, sizeof buf) == n);
  CHECK(std::string(buf) == "v1;pid=0000000000;gen=1");
}

TEST_CASE("handoff: patch_handoff_pid refuses what it cannot write",
          "[handoff]") {
  char buf[64] = "v1;pid=0000000000;gen=1";
  CHECK_FALSE(patch_handoff_pid(buf, -1));  // 20 digits as unsigned
  char other[64] = "v2;pid=0000000000;gen=1";
  CHECK_FALSE(patch_handoff_pid(other, 5));
  CHECK(std::string(other) == "v2;pid=0000000000;gen=1");
  char empty[64] = "";
  CHECK_FALSE(patch_handoff_pid(empty, 5));
}

// A failed patch should leave the value as it was: it is returned false
// precisely so the caller can tell, and a half-written pid is a different,
// possibly valid, pid. Today the digits are written right to left while
// they are checked, so the field is modified before the failure is found.
TEST_CASE("handoff: a failed patch leaves the value unchanged", "[handoff]") {
  char short_pid[64] = "v1;pid=12;gen=1234567";  // not fixed width
  CHECK_FALSE(patch_handoff_pid(short_pid, 5));
  CHECK(std::string(short_pid) == "v1;pid=12;gen=1234567");
  char negative[64] = "v1;pid=0000000000;gen=1";
  CHECK_FALSE(patch_handoff_pid(negative, -2000000000));
  CHECK(std::string(negative) == "v1;pid=0000000000;gen=1");
}

TEST_CASE("handoff: encode returns 0 when the buffer is too small",
          "[handoff]") {
  auto h = full_handoff();
  std::string text = encode(*h);
  std::string buf(text.size() + 1, '#');
  CHECK(encode_handoff(*h, buf.data(), text.size() + 1) == text.size());
  CHECK(buf.substr(0, text.size()) == text);
  CHECK(buf[text.size()] == '\0');
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{10}, text.size() - 1, text.size()}) {
    INFO("size " << size);
    std::string small(text.size() + 8, '#');
    CHECK(encode_handoff(*h, small.data(), size) == 0);
    // Nothing is written past the given size.
    CHECK(small.substr(size) == std::string(small.size() - size, '#'));
  }
}

TEST_CASE("handoff: decode rejects malformed values", "[handoff]") {
  const std::string kBad[] = {
      "",
      "garbage",
      "v1",
      "v1;",
      "v2;pid=0000012345;gen=3",
      "V1;pid=0000012345;gen=3",
      " v1;pid=0000012345;gen=3",
      "v1;gen=3",                 // missing pid
      "v1;pid=0000012345",        // missing gen
      "v1;pid=0000000000;gen=3",  // pid 0
      "v1;pid=-1;gen=3",
      "v1;pid=;gen=3",
      "v1;pid=99999999999;gen=3",  // does not fit a pid_t
      "v1;pid=12a;gen=3",
      "v1;pid=+12;gen=3",
      kHead.substr(0, kHead.size() - 1) + "0",  // gen 0
      kHead + "x",                              // gen with trailing garbage
      "v1;pid=1;gen=4294967296",                // gen overflows
      kHead + ";ready=-1",                      // negative fds
      kHead + ";state=-5,6",
      kHead + ";state=5,-6",
      kHead + ";listen=-3:100",
      kHead + ";own=-9:100",
      kHead + ";ready=",
      kHead + ";ready=3x",
      kHead + ";ready=2147483648",
      kHead + ";state=5",  // state needs two fds
      kHead + ";svc=-1",
      kHead + ";svc=8;svc=8",
      kHead + ";ready=8;svc=8",  // one fd for two things
      kHead + ";master=-1",
      kHead + ";master=8;master=9",
      kHead + ";svc=8;master=8",
      kHead + ";state=5,",
      kHead + ";state=5,6,7",
      kHead + ";ready=5;state=5,6",  // duplicate fds across fields
      kHead + ";state=5,5",
      kHead + ";listen=3:1,3:2",
      kHead + ";listen=3:1;own=3:2",
      kHead + ";ready=3;listen=3:1",
      kHead + ";state=4,5;own=5:1",
      kHead + ";listen=3:0",  // inode 0
      kHead + ";own=3:0",
      kHead + ";listen=3:",
      kHead + ";listen=3",
      kHead + ";listen=:1",
      kHead + ";listen=3:1:2",
      kHead + ";listen=3:1,",  // trailing ','
      kHead + ";listen=,3:1",
      kHead + ";listen=3:1,,4:2",
      kHead + ";listen=",  // empty list
      kHead + ";listen=3:18446744073709551616",
      kHead + ";unknown=1",  // unknown keys
      kHead + ";Ready=1",
      kHead + ";ready",
      kHead + ";=1",
      kHead + ";;ready=1",
      "v1;pid=0000012345;pid=0000012345;gen=3",  // repeated keys
      kHead + ";gen=3",
      kHead + ";ready=1;ready=2",
      kHead + ";state=4,5;state=6,7",
      kHead + ";listen=3:1;listen=4:2",
      kHead + ";own=3:1;own=4:2",
      kHead + ";listen=" + fd_list(Handoff::kMaxFds + 1),  // overlong
      kHead + ";own=" + fd_list(Handoff::kMaxFds + 1),
  };
  for (const std::string& text : kBad) {
    INFO("text: \"" << text << "\"");
    CHECK_FALSE(decodes(text));
  }
}

TEST_CASE("handoff: lists of exactly kMaxFds are accepted", "[handoff]") {
  std::string text = kHead + ";listen=" + fd_list(Handoff::kMaxFds) +
                     ";own=" + fd_list(Handoff::kMaxFds, 1000);
  auto out = std::make_unique<Handoff>();
  REQUIRE(decode_handoff(text, out.get()));
  CHECK(out->n_listen == Handoff::kMaxFds);
  CHECK(out->n_own == Handoff::kMaxFds);
  CHECK(out->own[Handoff::kMaxFds - 1].fd == 1000 + Handoff::kMaxFds - 1);
}

TEST_CASE("handoff: a rejected value leaves the output untouched",
          "[handoff]") {
  auto out = full_handoff();
  CHECK_FALSE(decode_handoff(kHead + ";listen=3:1;own=3:1", out.get()));
  CHECK(out->pid == 12345);
  CHECK(out->n_listen == 2);
  CHECK(out->listen[1].inode == 81240);
}

// Every field ends at ';' or at the end of the value; a value ending in ';'
// has an empty last field, which is as malformed as ";;" in the middle
// (rejected) or a trailing ',' in a list (rejected).
TEST_CASE("handoff: decode rejects a trailing ';'", "[handoff]") {
  CHECK_FALSE(decodes(kHead + ";"));
  CHECK_FALSE(decodes(kHead + ";listen=3:1;"));
}
