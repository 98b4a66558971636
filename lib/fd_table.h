// The per-fd table: what huptime knows about each file descriptor number.
//
// One 32-bit word per fd: kind (4 bits), the program's view of FD_CLOEXEC
// (1 bit), and a slot (24 bits: a listener record, or an index into the
// library's own fds). Lock-free: hooks on the hot path (close of an fd we
// do not track, accept/close of a connection) do one or two atomic
// operations on the word and nothing else. Words live in 4096-fd chunks
// that are mapped on first use, so an untouched table costs nothing however
// high RLIMIT_NOFILE is.
#pragma once

#include <atomic>
#include <cstdint>

namespace huptime {

enum class FdKind : uint32_t {
  kNone = 0,
  kConn = 1,      // accepted from a tracked listener
  kListener = 2,  // a listening socket of the program
  kRetired = 3,   // placeholder left where a listener was (draining)
  kOffered = 4,   // inherited listener not yet claimed by a bind()
  kOurs = 5,      // the library's own fd (self-pipe, generation state, ...)
  kEpoll = 6,     // an epoll instance a listener is registered with
};

inline constexpr uint32_t kViewCloexec = 1u << 4;
// On a connection's word: its socket has SO_LINGER with a timeout, so its
// last close() may block (then it goes through libc's close, which can be
// cancelled while it waits; fd_ops.cc).
inline constexpr uint32_t kConnLinger = 1u << 5;

constexpr uint32_t make_entry(FdKind kind, uint32_t slot, bool cloexec) {
  return static_cast<uint32_t>(kind) | (cloexec ? kViewCloexec : 0) |
         (slot << 8);
}
constexpr FdKind entry_kind(uint32_t e) { return FdKind(e & 0xf); }
constexpr uint32_t entry_slot(uint32_t e) { return e >> 8; }
constexpr bool entry_cloexec(uint32_t e) { return e & kViewCloexec; }
// A listener the program sees: its own, or one retired by stop accepting.
constexpr bool is_listener_kind(uint32_t e) {
  return entry_kind(e) == FdKind::kListener ||
         entry_kind(e) == FdKind::kRetired;
}
// Protected fds: the program's close/dup2 must not take them from us.
constexpr bool entry_protected(uint32_t e) {
  return entry_kind(e) == FdKind::kOurs || entry_kind(e) == FdKind::kOffered;
}

class FdTable {
 public:
  static constexpr int kChunkBits = 12;
  static constexpr int kChunkSize = 1 << kChunkBits;
  static constexpr int kMaxChunks = 1024;  // 4M fds

  // 0 for an fd never tracked (or out of range). Lock-free, no syscall.
  uint32_t get(int fd) const {
    auto* chunk = chunk_of(fd);
    return chunk ? chunk[fd & (kChunkSize - 1)].load(std::memory_order_acquire)
                 : 0;
  }

  // The word of fd, or null when its chunk is not mapped (then the fd was
  // never tracked). For hot paths that read the word and then change it:
  // one lookup for both.
  std::atomic<uint32_t>* word_of(int fd) const {
    auto* chunk = chunk_of(fd);
    return chunk ? chunk + (fd & (kChunkSize - 1)) : nullptr;
  }

  // Sets the word and returns the previous one. Maps the chunk when needed
  // (value != 0); fails silently for fds beyond the table. Inline: a
  // tracked accept and close each do one.
  uint32_t exchange(int fd, uint32_t value) {
    auto* chunk = chunk_of(fd);
    if (!chunk && value) chunk = map_chunk(fd);
    if (!chunk) return 0;
    return chunk[fd & (kChunkSize - 1)].exchange(value,
                                                 std::memory_order_acq_rel);
  }

  // Only if the word still holds `expected`.
  bool compare_exchange(int fd, uint32_t expected, uint32_t value);

  // Calls fn(fd, word) for every nonzero word with first <= fd <= last.
  // Visits only mapped chunks.
  template <typename Fn>
  void for_each(Fn fn, unsigned first = 0, unsigned last = ~0u) const {
    for (int c = 0; c < kMaxChunks; ++c) {
      auto* chunk = chunks_[c].load(std::memory_order_acquire);
      if (!chunk) continue;
      for (int i = 0; i < kChunkSize; ++i) {
        unsigned fd = (static_cast<unsigned>(c) << kChunkBits) + i;
        if (fd < first || fd > last) continue;
        uint32_t word = chunk[i].load(std::memory_order_acquire);
        if (word) fn(static_cast<int>(fd), word);
      }
    }
  }

 private:
  // One unsigned comparison covers both fd < 0 and fds beyond the table.
  std::atomic<uint32_t>* chunk_of(int fd) const {
    unsigned index = static_cast<unsigned>(fd) >> kChunkBits;
    if (index >= kMaxChunks) return nullptr;
    return chunks_[index].load(std::memory_order_acquire);
  }
  std::atomic<uint32_t>* chunk_for_write(int fd);
  [[gnu::cold]] std::atomic<uint32_t>* map_chunk(int fd);  // cold part

  std::atomic<std::atomic<uint32_t>*> chunks_[kMaxChunks] = {};
};

}  // namespace huptime
