// A server that reports on itself, for the behaviour tests: what the
// environment, signal mask and dispositions, working directory and
// executable of this generation are, and what a program it runs inherits.
//
//   srv_report PORT [VERSION_FILE]
//
// At start it writes "start pid=P version=V" to stdout (tests check that
// generations append rather than overwrite), then changes its own state
// the way programs do (sets an environment variable, blocks SIGINT,
// ignores SIGQUIT) so a test can tell "as at first start" from "as the
// previous generation left it". The listener is deliberately created
// without SOCK_CLOEXEC: without huptime, programs it runs would inherit it.
//
// GET /report answers key=value lines; any other path answers the version.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

extern char** environ;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string status_field(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, strlen(name), name) == 0)
      return line.substr(line.find_first_not_of(" \t", strlen(name) + 1));
  return "?";
}

int count_huptime_vars() {
  int n = 0;
  for (char** e = environ; *e; ++e)
    if (strncmp(*e, "HUPTIME_", 8) == 0) ++n;
  return n;
}

// Runs a shell through fork + execv (our exec hook's path) and reports
// what it sees: LD_PRELOAD, HUPTIME_* count, open sockets.
std::string shell_out() {
  int out[2];
  if (pipe(out) != 0) return "pipe-failed";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    const char* script =
        "echo \"child_preload=${LD_PRELOAD:-unset}\";"
        "echo \"child_huptime_vars=$(env | grep -c ^HUPTIME_)\";"
        "echo \"child_sockets=$(ls -l /proc/$$/fd | grep -c socket:)\"";
    char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                          const_cast<char*>(script), nullptr};
    execv("/bin/sh", argv);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, n);
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
  return text;
}

std::string report(const std::string& version, bool program_var_at_start) {
  std::ostringstream r;
  char cwd[4096] = "?", exe[4096] = "?";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  n = readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
  if (n > 0) cwd[n] = '\0';
  struct stat st {};
  stat("/proc/self/exe", &st);
  const char* preload = getenv("LD_PRELOAD");
  const char* user = getenv("USER_VAR");
  r << "pid=" << getpid() << "\n"
    << "version=" << version << "\n"
    << "exe=" << exe << "\n"
    << "exe_inode=" << st.st_ino << "\n"
    << "cwd=" << cwd << "\n"
    << "sigblk=" << status_field("SigBlk:") << "\n"
    << "sigign=" << status_field("SigIgn:") << "\n"
    << "preload=" << (preload ? preload : "unset") << "\n"
    << "user_var=" << (user ? user : "unset") << "\n"
    << "huptime_vars=" << count_huptime_vars() << "\n"
    << "program_var_at_start=" << (program_var_at_start ? 1 : 0) << "\n"
    << shell_out();
  return r.str();
}

void serve(int conn, const std::string& version, bool program_var) {
  char req[2048];
  size_t used = 0;
  while (used < sizeof req - 1) {
    ssize_t n = read(conn, req + used, sizeof req - 1 - used);
    if (n <= 0) break;
    used += static_cast<size_t>(n);
    req[used] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  req[used] = '\0';
  std::string body = strncmp(req, "GET /report", 11) == 0
                         ? report(version, program_var)
                         : "version=" + version + "\n";
  std::string head =
      "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  std::string all = head + body;
  ssize_t off = 0;
  while (off < static_cast<ssize_t>(all.size())) {
    ssize_t n = write(conn, all.data() + off, all.size() - off);
    if (n <= 0) break;
    off += n;
  }
  close(conn);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: srv_report PORT [VERSION_FILE]\n");
    return 2;
  }
  std::string version = argc > 2 ? read_file(argv[2]) : "none";
  bool program_var = getenv("PROGRAM_VAR") != nullptr;
  printf("start pid=%d version=%s\n", getpid(), version.c_str());
  fflush(stdout);
  setenv("PROGRAM_VAR", "set-by-previous-generation", 1);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 64) != 0) {
    perror("srv_report: bind/listen");
    return 1;
  }
  while (true) {
    // Connections close-on-exec: only a leaked listener would reach the
    // programs this server runs.
    int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    serve(conn, version, program_var);
  }
}
