// Finding a service run under huptime from the outside, through /proc.
//
// Every process of such a service keeps open a memfd named huptime-service
// (lib/shared_state.h ServiceShared; /proc/PID/fd/N reads
// "/memfd:huptime-service (deleted)") and one named huptime-generation
// (GenShared, one per generation). The service's identity is the
// (st_dev, st_ino) of its service memfd; its members are all processes that
// hold it. Reading another user's /proc/PID/fd fails with EACCES, so only
// the service's own user and root get this far: that is the access control
// of the control commands.
//
// The /proc root is a parameter so that tests can point elsewhere; pages are
// mapped read-only and shared (their values change live: read them with
// atomic loads).
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared_state.h"

namespace huptime {

inline constexpr const char* kProcRoot = "/proc";

// A file's identity: what tells two memfds apart.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

// A huptime memfd held by a process: its identity, and the /proc path
// through which it can be opened ("/proc/PID/fd/N").
struct MemfdRef {
  FileId id;
  std::string path;
  int fd = -1;  // N
};

// The huptime memfds of one process, in fd order. A process of a service
// holds one service memfd and usually one generation memfd (two for a
// moment while it sets up a new generation).
struct ProcessMemfds {
  pid_t pid = 0;
  std::vector<MemfdRef> services;
  std::vector<MemfdRef> generations;
};

// Why a process could not be looked at.
enum class ProbeError { kNone, kNoProcess, kPermission, kOther };

// Reads /proc/PID/fd under `proc_root`. On failure `memfds` is empty and
// `error` says why; a process without huptime memfds is not an error
// (memfds.services is then empty).
struct Probe {
  ProcessMemfds memfds;
  ProbeError error = ProbeError::kNone;
};
Probe probe_process(std::string_view proc_root, pid_t pid);

// Every process under `proc_root` that holds a service memfd, by pid.
// Processes that cannot be read, or vanish meanwhile, are skipped.
std::vector<ProcessMemfds> scan_services(std::string_view proc_root);

// The processes of `scan` that hold the service memfd `service`.
std::vector<ProcessMemfds> members_of(const std::vector<ProcessMemfds>& scan,
                                      const FileId& service);

// The pids of `members`, in the same order.
std::vector<pid_t> pids_of(const std::vector<ProcessMemfds>& members);

// The parent pid (PPid: in /proc/PID/status), or 0 when unknown.
pid_t parent_pid(std::string_view proc_root, pid_t pid);

// A read-only shared mapping of a whole memfd, unmapped on destruction.
class PageMap {
 public:
  PageMap() = default;
  ~PageMap();
  PageMap(PageMap&& other) noexcept;
  PageMap& operator=(PageMap&& other) noexcept;
  PageMap(const PageMap&) = delete;
  PageMap& operator=(const PageMap&) = delete;

  // Opens `path` (O_RDONLY) and maps all of it when it holds at least
  // `min_size` bytes and is the file `id` names (a /proc fd path may have
  // been reused meanwhile). nullopt with errno set otherwise (ESTALE: not
  // that file any more; EINVAL: too small).
  static std::optional<PageMap> open(const std::string& path, const FileId& id,
                                     size_t min_size);

  const void* data() const { return addr_; }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// A ServiceShared page, checked: the magic, the layout this launcher
// understands, and the argv within the mapping.
struct ServicePage {
  PageMap map;
  const ServiceShared* page() const {
    return static_cast<const ServiceShared*>(map.data());
  }
  // The launch argv as stored: encode_list() bytes.
  std::string_view argv_bytes() const;
};

// Maps the service page of `ref`. nullopt with *error set (one line) when
// it cannot be opened or is not a page this launcher understands.
std::optional<ServicePage> map_service_page(const MemfdRef& ref,
                                            std::string* error);

// Maps a GenShared page; nullopt when it cannot be mapped or its magic is
// wrong.
std::optional<PageMap> map_generation_page(const MemfdRef& ref);

// Generation pages by identity.
using GenerationPages = std::map<FileId, PageMap>;

inline const GenShared* gen_page(const PageMap& map) {
  return static_cast<const GenShared*>(map.data());
}

// Adds to `pages` every generation page the `members` hold that it lacks.
void map_generation_pages(const std::vector<ProcessMemfds>& members,
                          GenerationPages* pages);

// The generation `process` belongs to. While an old generation starts a
// new one, its processes also hold the new generation's page: the one that
// names the process (root_pid or a slot) wins, else the newest (highest
// fd). nullopt when none of its generation pages is in `pages`.
std::optional<FileId> generation_of(const ProcessMemfds& process,
                                    const GenerationPages& pages);

}  // namespace huptime
