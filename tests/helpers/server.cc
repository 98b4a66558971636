#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "http.h"

namespace huptime::test {
namespace {

constexpr int kBacklog = 128;

std::string read_body(const std::string& path) {
  if (path.empty()) return "hello\n";
  FILE* file = std::fopen(path.c_str(), "rbe");
  if (!file) fatal_errno(fmt::format("open {}", path));
  std::string body;
  char chunk[4096];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0)
    body.append(chunk, got);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed) fatal(fmt::format("read {} failed", path));
  return body;
}

void set_int_option(int fd, int level, int name, const SockSpec& spec) {
  int one = 1;
  if (setsockopt(fd, level, name, &one, sizeof one) != 0)
    fatal_errno(fmt::format("setsockopt on {}", spec.text));
}

int bind_listener(const SockSpec& spec, const ServerOptions& opts) {
  int type = SOCK_STREAM | (opts.cloexec ? SOCK_CLOEXEC : 0) |
             (opts.nonblock ? SOCK_NONBLOCK : 0);
  int fd = socket(spec.family, type, 0);
  if (fd < 0) fatal_errno(fmt::format("socket for {}", spec.text));
  if (spec.family != AF_UNIX)
    set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, spec);
  if (spec.family == AF_INET6)
    set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, spec);
  if (opts.unlink_first && !spec.unix_path.empty() &&
      unlink(spec.unix_path.c_str()) != 0 && errno != ENOENT)
    fatal_errno(fmt::format("unlink {}", spec.unix_path));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&spec.addr), spec.addr_len) !=
      0)
    fatal_errno(fmt::format("bind {}", spec.text));
  return fd;
}

}  // namespace

Server prepare_server(int argc, char** argv, unsigned extras) {
  Server server;
  server.options = parse_server_options(argc, argv, extras);
  std::string body = read_body(server.options.body_file);
  server.response = make_response(body);
  server.startup = read_startup(server.options.startup_file);
  install_usr1_recorder(server.options.usr1_file, body);
  return server;
}

void open_listeners(Server& server) {
  for (const SockSpec& spec : server.options.listen)
    server.listeners.push_back(bind_listener(spec, server.options));
  after_bind(server.startup);
  for (size_t i = 0; i < server.listeners.size(); ++i)
    if (listen(server.listeners[i], kBacklog) != 0)
      fatal_errno(fmt::format("listen {}", server.options.listen[i].text));
  after_listen(server.startup);
}

void write_pidfile(const Server& server) {
  const std::string& path = server.options.pidfile;
  if (path.empty()) return;
  std::string temp = fmt::format("{}.tmp.{}", path, getpid());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fatal_errno(fmt::format("open {}", temp));
  std::string text = fmt::format("{}\n", getpid());
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (close(fd) != 0 || !ok) fatal_errno(fmt::format("write {}", temp));
  if (rename(temp.c_str(), path.c_str()) != 0)
    fatal_errno(fmt::format("rename {} to {}", temp, path));
}

void reply_delay(const Server& server) {
  if (server.options.delay_ms > 0)
    std::this_thread::sleep_for(
        std::chrono::milliseconds(server.options.delay_ms));
}

void fatal_errno(std::string_view what) {
  fatal(fmt::format("{}: {}", what, std::strerror(errno)));
}

void fatal(std::string_view message) {
  fmt::print(stderr, "{}: {}\n", program_invocation_short_name, message);
  std::exit(1);
}

}  // namespace huptime::test
