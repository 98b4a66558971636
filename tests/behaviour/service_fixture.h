// One service under huptime for a behaviour test: started with a chosen
// environment, signal mask, ignored signals and working directory, its
// stdout in a file and its stderr watched for the library's log lines.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "log_watcher.h"

namespace huptime::test {

struct ServiceSpec {
  std::string huptime;                     // the launcher
  std::string mode = "fork";               // fork | exec
  std::vector<std::string> command;        // after "--"
  std::string cwd;                         // physical directory to start in
  std::map<std::string, std::string> env;  // added to a minimal environment
  std::vector<int> blocked;                // signals blocked at launch
  std::vector<int> ignored;                // signals ignored at launch
  std::string stdout_path;  // truncated, then the service's stdout
};

class Service {
 public:
  explicit Service(const ServiceSpec& spec);
  ~Service();  // TERM (then KILL) to the process group, reaps
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  pid_t leader() const { return leader_; }

  // Waits for the first generation's "ready" line. False on timeout.
  bool wait_ready();
  // SIGHUP to the leader; waits until the next generation is ready (and
  // in fork mode until the old leader is gone). False on timeout.
  bool reload();

  // Waits for a line of the service's stderr that matches `pattern`,
  // from its start. False on timeout.
  bool saw_line(const std::string& pattern, int timeout_s);

  // GET path from 127.0.0.1:port; the body, or "" on failure.
  static std::string get(int port, const std::string& path);

 private:
  ServiceSpec spec_;
  pid_t leader_ = -1;
  pid_t group_ = -1;
  std::unique_ptr<LogWatcher> log_;
  size_t cursor_ = 0;
  unsigned generation_ = 0;
};

// key=value lines into a map.
std::map<std::string, std::string> parse_report(const std::string& text);

// A free TCP port on 127.0.0.1, from the kernel.
int free_port();

// A fresh directory under /tmp, removed with its content by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace huptime::test
