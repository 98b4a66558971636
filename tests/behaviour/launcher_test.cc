// The launcher as an operator meets it: exit statuses and one-line errors
// of the real binary (usage 2, not found 127, not executable 126), the
// warning for a statically linked command, and --help/--version; and
// short programs run through it to completion.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Run {
  int status = -1;
  std::string err;
  std::string out;
};

std::string drain(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, n);
  close(fd);
  return text;
}

// Runs the launcher with args; stdout and stderr captured. The command
// runs to completion (all commands here exit at once).
Run run(std::vector<std::string> args) {
  const char* launcher = getenv("HUPTIME_LAUNCHER");
  REQUIRE(launcher);
  args.insert(args.begin(), launcher);
  int out[2], err[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err, O_CLOEXEC) == 0);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(argv[0], argv.data());
    _exit(99);
  }
  close(out[1]);
  close(err[1]);
  Run r;
  r.out = drain(out[0]);
  r.err = drain(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_CASE("bad usage exits 2 with one line and a hint", "[launcher]") {
  for (auto args :
       std::vector<std::vector<std::string>>{{},
                                             {"--bogus", "true"},
                                             {"--fork", "--exec", "true"},
                                             {"--unlink"},
                                             {"--log-level=loud", "true"}}) {
    Run r = run(args);
    INFO("args: " << (args.empty() ? "(none)" : args[0]));
    CHECK(r.status == 2);
    CHECK(r.err.rfind("huptime: ", 0) == 0);
    CHECK(r.err.find("Try 'huptime --help'") != std::string::npos);
  }
}

TEST_CASE("a command that is not found exits 127", "[launcher]") {
  Run r = run({"huptime-no-such-command-here"});
  CHECK(r.status == 127);
  CHECK(r.err.find("command not found") != std::string::npos);
}

TEST_CASE("a command that cannot be executed exits 126", "[launcher]") {
  Run r = run({"/etc/passwd"});
  CHECK(r.status == 126);
  Run dir = run({"/"});
  CHECK(dir.status == 126);
}

TEST_CASE("the command's own exit status is the launcher's", "[launcher]") {
  CHECK(run({"/bin/sh", "-c", "exit 7"}).status == 7);
  CHECK(run({"true"}).status == 0);
}

TEST_CASE("a statically linked command gets a warning", "[launcher]") {
  const char* static_true = getenv("STATIC_TRUE");
  REQUIRE(static_true);
  Run r = run({static_true});
  CHECK(r.status == 0);
  CHECK(r.err.find("statically linked") != std::string::npos);
  Run dynamic = run({"/bin/true"});
  CHECK(dynamic.err.find("statically linked") == std::string::npos);
}

// The program's atfork handlers run inside fork(); one that touches a
// listener must not find huptime's lock taken (it was, before the lock
// moved into huptime's own atfork handlers).
TEST_CASE("an atfork handler that closes a listener does not deadlock",
          "[launcher]") {
  const char* program = getenv("ATFORK_CLOSE");
  REQUIRE(program);
  Run r = run({program});
  CHECK(r.status == 0);
  CHECK(r.out == "forked\n");
}

TEST_CASE("--help and --version answer and exit 0", "[launcher]") {
  Run help = run({"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("SIGHUP") != std::string::npos);
  CHECK(help.out.find("--exec") != std::string::npos);
  Run version = run({"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("huptime ", 0) == 0);
}
