// hello_server: the demo's example service, an ordinary threaded HTTP/1.0
// server that knows nothing about huptime.
//
//   hello_server --port N [--host ADDR] (--version V | --version-file FILE)
//
// It binds ADDR:N (default 127.0.0.1), accepts in a blocking loop and
// serves each connection on a thread of its own: read the request head,
// answer "hello from version V (pid P)\n", close. The version is read once,
// at start-up, so a restart under huptime is what makes a new version
// visible (run-demo changes FILE, then sends SIGHUP).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string version;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "hello_server: %s\n", message.c_str());
  std::exit(1);
}

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "hello_server: %s\n"
               "usage: hello_server --port N [--host ADDR] "
               "(--version V | --version-file FILE)\n",
               message.c_str());
  std::exit(2);
}

// The first line of `path`, without surrounding white space.
std::string read_version_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path + ": " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  size_t begin = line.find_first_not_of(" \t\r");
  size_t end = line.find_last_not_of(" \t\r");
  if (begin == std::string::npos) die(path + " is empty");
  return line.substr(begin, end - begin + 1);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
    std::string value = argv[++i];
    if (arg == "--port") {
      options.port = value;
    } else if (arg == "--host") {
      options.host = value;
    } else if (arg == "--version") {
      options.version = value;
    } else if (arg == "--version-file") {
      options.version = read_version_file(value);
    } else {
      usage("unknown option " + std::string(arg));
    }
  }
  if (options.port.empty()) usage("--port is required");
  if (options.version.empty()) usage("--version or --version-file is required");
  return options;
}

// A listening TCP socket on host:port (numeric IPv4 or IPv6 address).
int listen_on(const Options& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc =
      getaddrinfo(options.host.c_str(), options.port.c_str(), &hints, &found);
  if (rc != 0) die(options.host + ":" + options.port + ": " + gai_strerror(rc));
  int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0)
    die("bind " + options.host + ":" + options.port + ": " +
        std::strerror(errno));
  freeaddrinfo(found);
  if (listen(fd, 128) != 0) die(std::string("listen: ") + std::strerror(errno));
  return fd;
}

// Reads up to the end of the request head (or EOF, error, timeout); the
// request itself does not matter, every path gets the same answer.
void read_request_head(int fd) {
  std::string head;
  char buf[2048];
  while (head.size() < 8192 && head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void serve(int fd, const std::string& response) {
  timeval timeout{10, 0};  // a silent client does not keep a thread forever
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  read_request_head(fd);
  send_all(fd, response);
  close(fd);
}

std::string make_response(const std::string& version) {
  std::ostringstream body;
  body << "hello from version " << version << " (pid " << getpid() << ")\n";
  std::ostringstream out;
  out << "HTTP/1.0 200 OK\r\n"
      << "Content-Type: text/plain\r\n"
      << "Content-Length: " << body.str().size() << "\r\n"
      << "Connection: close\r\n\r\n"
      << body.str();
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  int listener = listen_on(options);
  const std::string response = make_response(options.version);
  std::fprintf(stderr, "hello_server: version %s listening on %s:%s (pid %d)\n",
               options.version.c_str(), options.host.c_str(),
               options.port.c_str(), static_cast<int>(getpid()));
  for (;;) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
          errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        continue;
      die(std::string("accept: ") + std::strerror(errno));
    }
    try {
      std::thread(serve, fd, std::cref(response)).detach();
    } catch (const std::system_error&) {  // out of threads: serve inline
      serve(fd, response);
    }
  }
}
