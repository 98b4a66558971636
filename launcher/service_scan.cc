#include "service_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <utility>

#include "config.h"

namespace huptime {
namespace {

// Closes a DIR* on scope exit.
struct DirCloser {
  DIR* dir;
  ~DirCloser() {
    if (dir) closedir(dir);
  }
};

// A /proc directory or fd name: decimal digits only, fitting an int.
std::optional<int> number_from_name(std::string_view name) {
  if (name.empty() || name.size() > 10) return std::nullopt;
  for (char c : name)
    if (c < '0' || c > '9') return std::nullopt;
  std::optional<int64_t> n = parse_number(name);
  if (!n || *n > INT_MAX) return std::nullopt;
  return static_cast<int>(*n);
}

std::optional<pid_t> pid_from_name(std::string_view name) {
  std::optional<int> n = number_from_name(name);
  if (!n || *n < 1) return std::nullopt;
  return static_cast<pid_t>(*n);
}

std::string pid_dir(std::string_view proc_root, pid_t pid) {
  return std::string(proc_root) + "/" + std::to_string(pid);
}

// True when the link text `target` is memfd `name`: "/memfd:NAME", then
// the end or " (deleted)".
bool names_memfd(std::string_view target, std::string_view name) {
  constexpr std::string_view kPrefix = "/memfd:";
  if (!target.starts_with(kPrefix)) return false;
  target.remove_prefix(kPrefix.size());
  if (!target.starts_with(name)) return false;
  target.remove_prefix(name.size());
  return target.empty() || target.front() == ' ';
}

ProbeError probe_error(int error) {
  if (error == ENOENT || error == ESRCH) return ProbeError::kNoProcess;
  if (error == EACCES || error == EPERM) return ProbeError::kPermission;
  return ProbeError::kOther;
}

// Adds fd `name` of the directory `dir` (/proc/PID/fd) to `out` when it is
// one of huptime's memfds. Fds closed meanwhile are skipped.
void look_at_fd(DIR* dir, const std::string& fd_dir, const char* name,
                ProcessMemfds* out) {
  char target[256];
  ssize_t n = readlinkat(dirfd(dir), name, target, sizeof target - 1);
  if (n <= 0) return;
  std::string_view link(target, static_cast<size_t>(n));
  std::vector<MemfdRef>* list = nullptr;
  if (names_memfd(link, kServiceMemfdName))
    list = &out->services;
  else if (names_memfd(link, kGenerationMemfdName))
    list = &out->generations;
  if (!list) return;
  struct stat st;
  if (fstatat(dirfd(dir), name, &st, 0) != 0) return;
  std::optional<int> fd = number_from_name(name);
  if (!fd) return;
  list->push_back({{st.st_dev, st.st_ino}, fd_dir + "/" + name, *fd});
}

// Fd order, so that "the first service memfd" is well defined.
void sort_by_fd(std::vector<MemfdRef>* refs) {
  std::sort(refs->begin(), refs->end(),
            [](const MemfdRef& a, const MemfdRef& b) { return a.fd < b.fd; });
}

}  // namespace

Probe probe_process(std::string_view proc_root, pid_t pid) {
  Probe probe;
  probe.memfds.pid = pid;
  std::string fd_dir = pid_dir(proc_root, pid) + "/fd";
  DirCloser dir{opendir(fd_dir.c_str())};
  if (!dir.dir) {
    probe.error = probe_error(errno);
    return probe;
  }
  while (const dirent* entry = readdir(dir.dir)) {
    if (entry->d_name[0] == '.') continue;
    look_at_fd(dir.dir, fd_dir, entry->d_name, &probe.memfds);
  }
  sort_by_fd(&probe.memfds.services);
  sort_by_fd(&probe.memfds.generations);
  return probe;
}

std::vector<ProcessMemfds> scan_services(std::string_view proc_root) {
  std::vector<ProcessMemfds> found;
  DirCloser dir{opendir(std::string(proc_root).c_str())};
  if (!dir.dir) return found;
  while (const dirent* entry = readdir(dir.dir)) {
    std::optional<pid_t> pid = pid_from_name(entry->d_name);
    if (!pid) continue;
    Probe probe = probe_process(proc_root, *pid);
    if (probe.error == ProbeError::kNone && !probe.memfds.services.empty())
      found.push_back(std::move(probe.memfds));
  }
  std::sort(found.begin(), found.end(),
            [](const ProcessMemfds& a, const ProcessMemfds& b) {
              return a.pid < b.pid;
            });
  return found;
}

std::vector<ProcessMemfds> members_of(const std::vector<ProcessMemfds>& scan,
                                      const FileId& service) {
  std::vector<ProcessMemfds> members;
  for (const ProcessMemfds& process : scan)
    if (std::any_of(process.services.begin(), process.services.end(),
                    [&](const MemfdRef& ref) { return ref.id == service; }))
      members.push_back(process);
  return members;
}

std::vector<pid_t> pids_of(const std::vector<ProcessMemfds>& members) {
  std::vector<pid_t> pids;
  for (const ProcessMemfds& member : members) pids.push_back(member.pid);
  return pids;
}

pid_t parent_pid(std::string_view proc_root, pid_t pid) {
  std::ifstream status(pid_dir(proc_root, pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with("PPid:")) continue;
    std::string_view value = std::string_view(line).substr(5);
    while (!value.empty() && (value.front() == '\t' || value.front() == ' '))
      value.remove_prefix(1);
    std::optional<pid_t> ppid = pid_from_name(value);
    return ppid.value_or(0);
  }
  return 0;
}

// ---------------------------------------------------------------- PageMap

PageMap::~PageMap() {
  if (addr_) munmap(addr_, size_);
}

PageMap::PageMap(PageMap&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

PageMap& PageMap::operator=(PageMap&& other) noexcept {
  if (this != &other) {
    if (addr_) munmap(addr_, size_);
    addr_ = std::exchange(other.addr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

std::optional<PageMap> PageMap::open(const std::string& path, const FileId& id,
                                     size_t min_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st;
  void* addr = MAP_FAILED;
  int error = 0;
  if (fstat(fd, &st) != 0) {
    error = errno;
  } else if (st.st_dev != id.dev || st.st_ino != id.ino) {
    error = ESTALE;
  } else if (st.st_size < 0 || static_cast<size_t>(st.st_size) < min_size ||
             st.st_size == 0) {
    error = EINVAL;
  } else {
    addr = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED,
                fd, 0);
    if (addr == MAP_FAILED) error = errno;
  }
  close(fd);
  if (addr == MAP_FAILED) {
    errno = error;
    return std::nullopt;
  }
  PageMap map;
  map.addr_ = addr;
  map.size_ = static_cast<size_t>(st.st_size);
  return map;
}

// ------------------------------------------------------------------ pages

std::string_view ServicePage::argv_bytes() const {
  uint32_t len = page()->argv_len.load(std::memory_order_acquire);
  return {service_argv(page()), len};
}

std::optional<ServicePage> map_service_page(const MemfdRef& ref,
                                            std::string* error) {
  std::optional<PageMap> map =
      PageMap::open(ref.path, ref.id, ServiceShared::kHeaderSize);
  if (!map) {
    *error = "cannot read " + ref.path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const auto* page = static_cast<const ServiceShared*>(map->data());
  uint32_t magic = page->magic.load(std::memory_order_acquire);
  uint32_t layout = page->layout.load(std::memory_order_acquire);
  uint32_t argv_len = page->argv_len.load(std::memory_order_acquire);
  if (magic != ServiceShared::kMagic) {
    *error = ref.path + " is not a huptime service page";
    return std::nullopt;
  }
  if (layout != ServiceShared::kLayout) {
    *error = "the service uses shared page layout " + std::to_string(layout) +
             "; this huptime understands layout " +
             std::to_string(ServiceShared::kLayout);
    return std::nullopt;
  }
  if (argv_len > map->size() - ServiceShared::kHeaderSize) {
    *error = ref.path + ": stored command line overruns the page";
    return std::nullopt;
  }
  return ServicePage{std::move(*map)};
}

std::optional<PageMap> map_generation_page(const MemfdRef& ref) {
  std::optional<PageMap> map =
      PageMap::open(ref.path, ref.id, sizeof(GenShared));
  if (!map) return std::nullopt;
  const auto* page = static_cast<const GenShared*>(map->data());
  if (page->magic.load(std::memory_order_acquire) != GenShared::kMagic)
    return std::nullopt;
  return map;
}

namespace {

bool lists_pid(const GenShared* page, pid_t pid) {
  if (page->root_pid.load(std::memory_order_acquire) == pid) return true;
  for (const ProcSlot& slot : page->slots)
    if (slot.pid.load(std::memory_order_acquire) == pid) return true;
  return false;
}

}  // namespace

void map_generation_pages(const std::vector<ProcessMemfds>& members,
                          GenerationPages* pages) {
  for (const ProcessMemfds& member : members)
    for (const MemfdRef& ref : member.generations) {
      if (pages->count(ref.id)) continue;
      if (std::optional<PageMap> map = map_generation_page(ref))
        pages->emplace(ref.id, std::move(*map));
    }
}

std::optional<FileId> generation_of(const ProcessMemfds& process,
                                    const GenerationPages& pages) {
  std::optional<FileId> newest;
  for (const MemfdRef& ref : process.generations) {
    auto it = pages.find(ref.id);
    if (it == pages.end()) continue;
    if (lists_pid(gen_page(it->second), process.pid)) return ref.id;
    newest = ref.id;  // fds are in order: the last one is the newest
  }
  return newest;
}

}  // namespace huptime
