// startup: what the preload costs a program that starts and exits at once.
//
//   startup --library LIB --launcher HUPTIME [--program /bin/true]
//           [--arg ARG]... [--runs N] [--nofile N,N...] [--smaps DIR]
//
// For each RLIMIT_NOFILE (default 1024 and 524288) it starts PROGRAM N times
// (default 200) in each of four ways, alternating between them so that
// drift on the machine hits all of them alike:
//   direct    PROGRAM as is
//   preload   PROGRAM with LD_PRELOAD=LIB and the variables the launcher
//             sets (encoded by the launcher's own code, lib/config.h): what
//             a service started by huptime pays
//   bare      LD_PRELOAD=LIB alone: the library is loaded but, without the
//             launcher's variables, manages nothing (the cost of loading)
//   launcher  HUPTIME PROGRAM: the launcher's own exec on top of the preload
// and prints the median and 90th percentile wall time (fork to reap, in µs),
// the median RSS as the program exits (KiB) and the difference to `direct`.
//
// RSS is read from /proc/PID/smaps_rollup while the program is stopped at
// its exit (ptrace, PTRACE_EVENT_EXIT), in separate runs so that tracing
// costs the timed runs nothing: wait4's ru_maxrss comes from the kernel's
// per-CPU RSS counters, approximate by up to a few hundred KiB for a
// process this small, more than the differences measured here. With
// --smaps DIR, the whole /proc/PID/smaps of each variant's last traced run
// is kept as DIR/VARIANT-NOFILE.smaps, for a per-mapping comparison (run
// under `setarch -R`: with ASLR, fault-around windows move between runs).
//
// A benchmark prints numbers and never judges them: the exit status is 0
// unless a run of PROGRAM failed or the arguments were wrong. Children are
// started with fork() rather than vfork()/posix_spawn(), because after
// vfork the parent's peak RSS would be charged to the child.
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

extern char** environ;

namespace {

struct Options {
  std::string library;
  std::string launcher;
  std::string program = "/bin/true";
  std::vector<std::string> args;  // --arg, repeatable
  int runs = 200;
  std::vector<rlim_t> nofile = {1024, 524288};
  std::string smaps_dir;  // --smaps: where to keep per-mapping smaps
};

// One way of starting the program: argv and environment, owned here.
struct Variant {
  const char* name = "";
  std::string smaps_path;  // where to copy smaps at exit; empty: nowhere
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::vector<long> wall_us;
  std::vector<long> rss_kib;
  int failures = 0;
};

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "startup: %s\nusage: startup --library LIB --launcher HUPTIME "
               "[--program PATH] [--arg ARG]... [--runs N] [--nofile N,N...] "
               "[--smaps DIR]\n",
               message.c_str());
  std::exit(2);
}

std::vector<rlim_t> parse_nofile(const std::string& text) {
  std::vector<rlim_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = std::min(text.find(',', pos), text.size());
    long value = std::atol(text.substr(pos, comma - pos).c_str());
    if (value < 16) usage("--nofile: bad value in '" + text + "'");
    out.push_back(static_cast<rlim_t>(value));
    pos = comma + 1;
  }
  return out;
}

// An absolute path: LD_PRELOAD and execve must not depend on the cwd.
std::string absolute(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) usage(path + ": " + std::strerror(errno));
  std::string out = resolved;
  std::free(resolved);
  return out;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
    std::string value = argv[++i];
    if (arg == "--library")
      options.library = value;
    else if (arg == "--launcher")
      options.launcher = value;
    else if (arg == "--program")
      options.program = value;
    else if (arg == "--arg")
      options.args.push_back(value);
    else if (arg == "--runs")
      options.runs = std::atoi(value.c_str());
    else if (arg == "--nofile")
      options.nofile = parse_nofile(value);
    else if (arg == "--smaps")
      options.smaps_dir = value;
    else
      usage("unknown option " + std::string(arg));
  }
  if (options.library.empty() || options.launcher.empty())
    usage("--library and --launcher are required");
  if (options.runs < 1) usage("--runs must be at least 1");
  options.library = absolute(options.library);
  options.launcher = absolute(options.launcher);
  return options;
}

// Our environment without anything huptime-related, so that `direct`
// really runs without the preload whatever the caller had set.
std::vector<std::string> clean_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry = *e;
    if (entry.starts_with("LD_PRELOAD=") ||
        entry.starts_with(huptime::kEnvPrefix))
      continue;
    env.emplace_back(entry);
  }
  return env;
}

// The environment the launcher would give `program` in fork mode.
std::vector<std::string> preload_environment(const Options& options) {
  huptime::LaunchConfig config;
  config.argv = {options.program};
  config.argv.insert(config.argv.end(), options.args.begin(),
                     options.args.end());
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) config.cwd = cwd;
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  config.sigmask = huptime::sigset_to_mask(mask);
  std::vector<std::string> env = clean_environment();
  env.push_back("LD_PRELOAD=" + options.library);
  for (std::string& entry : huptime::encode_launch_env(config))
    env.push_back(std::move(entry));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

long now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000L + ts.tv_nsec / 1000;
}

// Starts the variant with stdio on /dev/null (stderr on `err_fd` when it
// is >= 0); `traced`: stopped for the caller's ptrace before its execve.
pid_t start_variant(Variant& v, int err_fd, bool traced) {
  std::vector<char*> argv = c_strings(v.argv);
  std::vector<char*> envp = c_strings(v.env);
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(err_fd >= 0 ? err_fd : null_fd, 2);
    if (traced) {
      ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
      raise(SIGSTOP);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    std::perror("startup: fork");
    std::exit(1);
  }
  return pid;
}

// Runs the variant once, untraced, and records its wall time.
void run_once(Variant* v, int err_fd) {
  long start = now_us();
  pid_t pid = start_variant(*v, err_fd, false);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  long elapsed = now_us() - start;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++v->failures;
  v->wall_us.push_back(elapsed);
}

// Rss of smaps_rollup, in KiB; -1 if unreadable.
long rss_at(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/smaps_rollup";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "Rss: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

// Copies /proc/PID/smaps to `path`.
void save_smaps(pid_t pid, const std::string& path) {
  std::string from = "/proc/" + std::to_string(pid) + "/smaps";
  FILE* in = std::fopen(from.c_str(), "r");
  FILE* out = in != nullptr ? std::fopen(path.c_str(), "w") : nullptr;
  char buf[4096];
  size_t n = 0;
  while (out != nullptr && (n = std::fread(buf, 1, sizeof buf, in)) > 0)
    std::fwrite(buf, 1, n, out);
  if (out != nullptr) std::fclose(out);
  if (in != nullptr) std::fclose(in);
}

// Runs the variant once under ptrace and records its RSS at exit (the
// PTRACE_EVENT_EXIT stop comes before the kernel tears the memory down).
void measure_rss(Variant* v) {
  pid_t pid = start_variant(*v, -1, true);
  int status = 0;
  long rss = -1;
  bool options_set = false;
  while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
    int sig = WSTOPSIG(status);
    int deliver = 0;
    if (!options_set) {
      ptrace(PTRACE_SETOPTIONS, pid, nullptr,
             reinterpret_cast<void*>(PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC));
      options_set = true;
    } else if (sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_EXIT) {
      rss = rss_at(pid);
      if (!v->smaps_path.empty()) save_smaps(pid, v->smaps_path);
    } else if (sig != SIGTRAP) {
      deliver = sig;
    }
    ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(deliver));
  }
  if (rss >= 0) v->rss_kib.push_back(rss);
}

// One untimed run per variant with stderr captured: what it printed (a
// library warning would show up here) is worth knowing once, not N times.
void warm_up(Variant* v) {
  FILE* err = std::tmpfile();
  run_once(v, err != nullptr ? fileno(err) : -1);
  v->wall_us.clear();
  v->rss_kib.clear();
  if (err == nullptr) return;
  char line[512];
  std::rewind(err);
  while (std::fgets(line, sizeof line, err) != nullptr)
    std::printf("  note: %s wrote to stderr: %s", v->name, line);
  std::fclose(err);
}

long percentile(std::vector<long> values, int pct) {
  std::sort(values.begin(), values.end());
  size_t index = (values.size() - 1) * static_cast<size_t>(pct) / 100;
  return values[index];
}

void print_results(const std::vector<Variant>& variants) {
  std::printf("  %-9s %10s %8s %12s %18s\n", "variant", "median_us", "p90_us",
              "rss_kib", "median vs direct");
  long base = percentile(variants[0].wall_us, 50);
  for (const Variant& v : variants) {
    long median = percentile(v.wall_us, 50);
    std::printf("  %-9s %10ld %8ld %12ld", v.name, median,
                percentile(v.wall_us, 90), percentile(v.rss_kib, 50));
    if (&v != &variants[0])
      std::printf(" %+9ld us (x%.2f)", median - base,
                  base > 0 ? static_cast<double>(median) / base : 0.0);
    if (v.failures > 0) std::printf("  [%d runs failed]", v.failures);
    std::printf("\n");
  }
}

// Sets RLIMIT_NOFILE to `nofile`, or to the hard limit when raising the
// hard limit is not permitted (it needs CAP_SYS_RESOURCE). Returns the
// limit in force, 0 if none could be set.
rlim_t set_nofile(rlim_t nofile) {
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit want{nofile, std::max(nofile, old.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &want) == 0) return nofile;
  int error = errno;
  want = rlimit{old.rlim_max, old.rlim_max};
  if (old.rlim_max == RLIM_INFINITY || setrlimit(RLIMIT_NOFILE, &want) != 0)
    return 0;
  std::printf(
      "RLIMIT_NOFILE=%lu: %s (hard limit %lu); measuring at the "
      "hard limit instead\n",
      static_cast<unsigned long>(nofile), std::strerror(error),
      static_cast<unsigned long>(old.rlim_max));
  return old.rlim_max;
}

// Runs every variant `runs` times, alternating, at RLIMIT_NOFILE=nofile.
// False if no limit could be set.
bool measure_at(rlim_t nofile, int runs, const std::string& smaps_dir,
                std::vector<Variant>* variants) {
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlim_t in_force = set_nofile(nofile);
  if (in_force == 0) {
    std::printf("RLIMIT_NOFILE=%lu: skipped (cannot set it)\n",
                static_cast<unsigned long>(nofile));
    return false;
  }
  std::printf("RLIMIT_NOFILE=%lu\n", static_cast<unsigned long>(in_force));
  for (Variant& v : *variants)
    if (!smaps_dir.empty())
      v.smaps_path =
          smaps_dir + "/" + v.name + "-" + std::to_string(in_force) + ".smaps";
  for (Variant& v : *variants) warm_up(&v);
  for (int i = 0; i < runs; ++i)
    for (Variant& v : *variants) run_once(&v, -1);
  for (int i = 0; i < 9; ++i)
    for (Variant& v : *variants) measure_rss(&v);
  print_results(*variants);
  setrlimit(RLIMIT_NOFILE, &old);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  std::printf("startup: %s, %d alternating runs per variant\n",
              options.program.c_str(), options.runs);
  std::printf("  preload  = LD_PRELOAD=%s + launcher variables\n",
              options.library.c_str());
  std::printf("  bare     = LD_PRELOAD alone (library loaded, idle)\n");
  std::printf("  launcher = %s %s\n", options.launcher.c_str(),
              options.program.c_str());
  std::fflush(stdout);
  int failures = 0;
  for (rlim_t nofile : options.nofile) {
    std::vector<Variant> variants(4);
    variants[0].name = "direct";
    std::vector<std::string> command = {options.program};
    command.insert(command.end(), options.args.begin(), options.args.end());
    variants[0].argv = command;
    variants[0].env = clean_environment();
    variants[1].name = "preload";
    variants[1].argv = command;
    variants[1].env = preload_environment(options);
    variants[2].name = "bare";
    variants[2].argv = command;
    variants[2].env = clean_environment();
    variants[2].env.push_back("LD_PRELOAD=" + options.library);
    variants[3].name = "launcher";
    variants[3].argv = {options.launcher};
    variants[3].argv.insert(variants[3].argv.end(), command.begin(),
                            command.end());
    variants[3].env = clean_environment();
    if (measure_at(nofile, options.runs, options.smaps_dir, &variants))
      for (const Variant& v : variants) failures += v.failures;
    std::fflush(stdout);
  }
  if (failures > 0) std::printf("startup: %d runs failed\n", failures);
  return failures > 0 ? 1 : 0;
}
