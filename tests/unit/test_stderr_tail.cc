// lib/stderr_tail: the last lines a failed generation wrote to stderr.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "stderr_tail.h"

using namespace huptime;

namespace {

// Puts a temporary file (or any fd) on fd 2 for the test's lifetime.
class StderrOn {
 public:
  explicit StderrOn(int fd) : saved_(dup(2)) {
    REQUIRE(saved_ >= 0);
    REQUIRE(dup2(fd, 2) == 2);
  }
  ~StderrOn() {
    dup2(saved_, 2);
    close(saved_);
  }

 private:
  int saved_;
};

struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(int flags) {
    char name[] = "/tmp/huptime-stderr-XXXXXX";
    int created = mkstemp(name);
    REQUIRE(created >= 0);
    close(created);
    path = name;
    fd = open(name, flags | O_CLOEXEC);
    REQUIRE(fd >= 0);
  }
  ~TempFile() {
    close(fd);
    unlink(path.c_str());
  }
};

void put(const std::string& text) {
  REQUIRE(write(2, text.data(), text.size()) ==
          static_cast<ssize_t>(text.size()));
}

}  // namespace

TEST_CASE("stderr tail: lines appended after the mark", "[stderr_tail]") {
  // Write-only (as `2>>log` opens it): read through /proc/self/fd/2.
  int flags = GENERATE(O_WRONLY | O_APPEND, O_RDWR | O_APPEND);
  TempFile file(flags);
  StderrOn redirect(file.fd);
  put("before\n");
  int64_t mark = stderr_mark();
  CHECK(mark == 7);
  CHECK(stderr_tail_since(mark, 5).empty());
  put("one\ntwo\n\n   \nthree\n");
  CHECK(stderr_tail_since(mark, 2) == "two | three");
  CHECK(stderr_tail_since(mark, 10) == "one | two | three");
  CHECK(stderr_tail_since(mark, 0).empty());
  put("partial");
  CHECK(stderr_tail_since(mark, 2) == "three | partial");
  CHECK(stderr_tail_since(-1, 2).empty());
  // Truncated (rotated): nothing to say.
  REQUIRE(ftruncate(file.fd, 3) == 0);
  CHECK(stderr_tail_since(mark, 2).empty());
}

TEST_CASE("stderr tail: cleaning", "[stderr_tail]") {
  TempFile file(O_WRONLY | O_APPEND);
  StderrOn redirect(file.fd);
  int64_t mark = stderr_mark();
  REQUIRE(mark == 0);
  std::string own = "huptime[" + std::to_string(getpid()) + "]: ours\n";
  put(std::string(300, 'x') + "\n" + own +
      "huptime[1]: another process\n"
      "\x1b[31mred\x1b[0m\r\n");
  CHECK(stderr_tail_since(mark, 3) == std::string(200, 'x') +
                                          " | huptime[1]: another process"
                                          " |  [31mred [0m");
  // Never half a UTF-8 character: 199 bytes, then a 2-byte one.
  mark = stderr_mark();
  put(std::string(199, 'a') + "\xc3\xa9tail\n");
  CHECK(stderr_tail_since(mark, 1) == std::string(199, 'a'));
}

TEST_CASE("stderr tail: at most the last 64 KiB", "[stderr_tail]") {
  TempFile file(O_RDWR);
  StderrOn redirect(file.fd);
  int64_t mark = stderr_mark();
  std::string line(99, 'y');
  line += '\n';
  std::string lots;
  for (int i = 0; i < 2000; ++i) lots += line;  // ~200 KiB
  put("first\n" + lots + "last one\n");
  std::string tail = stderr_tail_since(mark, 1000);
  CHECK(tail.find("first") == std::string::npos);
  CHECK(tail.size() < 70 * 1024);
  CHECK(tail.substr(0, 99) == std::string(99, 'y'));  // no partial line
  CHECK(tail.substr(tail.size() - 8) == "last one");
}

TEST_CASE("stderr tail: not a regular file", "[stderr_tail]") {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
  {
    StderrOn redirect(p[1]);
    CHECK(stderr_mark() == -1);
    put("a line\n");
    CHECK(stderr_tail_since(0, 5).empty());
  }
  close(p[0]);
  close(p[1]);
}
