#include "diag.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace huptime {
namespace {

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void say(std::string_view prefix, std::string_view message,
         std::string_view suffix = {}) {
  std::string line = "huptime: ";
  line += prefix;
  line += message;
  line += '\n';
  line += suffix;
  write_all(STDERR_FILENO, line);
}

}  // namespace

void fatal(int status, std::string_view message) {
  say("", message);
  std::exit(status);
}

void usage_error(std::string_view message) {
  say("", message, "Try 'huptime --help'.\n");
  std::exit(kExitUsage);
}

void warn(std::string_view message) { say("warning: ", message); }

void inform(std::string_view message) { say("", message); }

void print_and_exit(std::string_view text) {
  if (!write_all(STDOUT_FILENO, text))
    fatal(kExitFailure, "write error on standard output");
  std::exit(0);
}

void finish(int status, std::string_view out, std::string_view err) {
  bool written = write_all(STDOUT_FILENO, out);
  write_all(STDERR_FILENO, err);
  if (!written && status == 0)
    fatal(kExitFailure, "write error on standard output");
  std::exit(status);
}

}  // namespace huptime
