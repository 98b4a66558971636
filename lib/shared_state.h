// The layout of the two kinds of shared pages, read by the library and by
// the launcher's control commands (--restart, --status, --stop).
//
// Both live in memfds that the service's processes keep open; nothing is
// created in the file system. A control command finds them through
// /proc/PID/fd (links read "/memfd:huptime-service (deleted)"), which only
// the service's own user and root may open: that is the access control.
//
//  - ServiceShared: one per service, created by the first generation and
//    handed to every later one (handoff "svc="). It counts restart
//    attempts and records how the last one ended, which is what
//    `huptime --restart` waits for, and where the current generation is.
//  - GenShared: one per generation (generation.h), shared by the
//    generation's processes: its state for --status and one slot per
//    process with the number of connections it has open.
//
// Every field is a lock-free atomic or written before a release store that
// publishes it. Add fields only at the end; bump kLayout when a field
// changes meaning.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace huptime {

inline constexpr const char* kServiceMemfdName = "huptime-service";
inline constexpr const char* kGenerationMemfdName = "huptime-generation";

// An attempt still unfinished this long after its start timeout hung or
// lost its leader: later restarts no longer wait for it (library and
// --restart alike).
inline constexpr int64_t kStuckAttemptGraceMs = 5'000;

// One process of a generation.
struct alignas(64) ProcSlot {
  std::atomic<int32_t> pid;    // 0: free; a dead pid: free to take
  std::atomic<int32_t> conns;  // connections this process has open
};

// Generation state for --status, in the order a generation goes through.
enum class GenPhase : uint32_t { kStarting = 0, kReady = 1, kDraining = 2 };

struct GenShared {
  static constexpr uint32_t kMagic = 0x48555054;  // "HUPT"
  static constexpr int kSlots = 255;
  std::atomic<uint32_t> magic;
  std::atomic<uint32_t> generation;
  std::atomic<int32_t> restart_owner;
  std::atomic<uint32_t> ready;
  std::atomic<int32_t> root_pid;    // the process it started as
  std::atomic<uint32_t> draining;   // 1 once it stops accepting
  std::atomic<int64_t> started_ms;  // CLOCK_MONOTONIC (system-wide)
  std::atomic<int64_t> ready_ms;    // 0 until ready
  // Futex word: bumped and woken each time a process of the generation
  // stops accepting (gen_wait_others_stopped). Fits in the header's line,
  // so a page made by an older library reads 0 here and never changes.
  std::atomic<uint32_t> stopped_seq;
  alignas(64) ProcSlot slots[kSlots];
};
static_assert(sizeof(GenShared) == 64 * (GenShared::kSlots + 1));

struct ServiceShared {
  static constexpr uint32_t kMagic = 0x48555053;  // "HUPS"
  static constexpr uint32_t kLayout = 1;
  static constexpr size_t kErrorSize = 480;
  static constexpr size_t kHeaderSize = 1024;  // argv follows
  std::atomic<uint32_t> magic;
  std::atomic<uint32_t> layout;
  std::atomic<uint32_t> mode;  // 0 fork, 1 exec, 2 master (kPageMode*)
  std::atomic<int32_t> restart_signal;
  // The newest ready generation and its main process: where --restart
  // sends the signal.
  std::atomic<uint32_t> current_gen;
  std::atomic<int32_t> current_pid;
  // Restart attempts: `begun` counts signals that started one, `ended`
  // those that finished, `failed` those that ended without a new version
  // serving. last_error (NUL-terminated) is why attempt number `ended`
  // failed, written before `ended` is stored (release).
  std::atomic<uint32_t> begun;
  std::atomic<uint32_t> ended;
  std::atomic<uint32_t> failed;
  std::atomic<uint32_t> last_ok;
  // A restart signal arrived during an upgrade: one follow-up is owed, by
  // whichever generation serves once the upgrade ends.
  std::atomic<uint32_t> pending;
  std::atomic<int32_t> max_draining;
  std::atomic<int64_t> start_timeout_ms;
  std::atomic<int64_t> drain_timeout_ms;
  std::atomic<int64_t> created_ms;   // CLOCK_MONOTONIC, first generation
  std::atomic<uint32_t> argv_len;    // bytes of encode_list(argv) after
                                     // the header
  std::atomic<int32_t> attempt_pid;  // the leader of the attempt under way
  std::atomic<int64_t> attempt_ms;   // CLOCK_MONOTONIC when it began
  char last_error[kErrorSize];
  // `huptime --master`: its pid (0 without one), where --restart sends the
  // signal; and 1 while it restarts the copies one after another, so that
  // --restart waits for all of them (the outcome: last_ok, last_error).
  std::atomic<int32_t> master_pid;
  std::atomic<uint32_t> rolling;
};
static_assert(sizeof(ServiceShared) <= ServiceShared::kHeaderSize);
static_assert(std::atomic<int64_t>::is_always_lock_free);

inline constexpr uint32_t kPageModeFork = 0;
inline constexpr uint32_t kPageModeExec = 1;
inline constexpr uint32_t kPageModeMaster = 2;

// The launch argv (encode_list) stored after the header.
inline const char* service_argv(const ServiceShared* page) {
  return reinterpret_cast<const char*>(page) + ServiceShared::kHeaderSize;
}

}  // namespace huptime
