#include "fd_table.h"

#include <sys/mman.h>

#include <cerrno>

namespace huptime {

std::atomic<uint32_t>* FdTable::chunk_for_write(int fd) {
  auto* chunk = chunk_of(fd);
  return chunk ? chunk : map_chunk(fd);
}

std::atomic<uint32_t>* FdTable::map_chunk(int fd) {
  if (fd < 0 || (fd >> kChunkBits) >= kMaxChunks) return nullptr;
  auto& slot = chunks_[fd >> kChunkBits];
  auto* chunk = slot.load(std::memory_order_acquire);
  if (chunk) return chunk;
  // mmap, not malloc: this may run in a hook called from inside malloc.
  // The hooks' callers see their own call's errno, not ours.
  int saved_errno = errno;
  void* mem = mmap(nullptr, sizeof(std::atomic<uint32_t>) * kChunkSize,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  errno = saved_errno;
  if (mem == MAP_FAILED) return nullptr;
  auto* fresh = static_cast<std::atomic<uint32_t>*>(mem);
  if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel))
    return fresh;
  munmap(mem, sizeof(std::atomic<uint32_t>) * kChunkSize);
  return chunk;
}

bool FdTable::compare_exchange(int fd, uint32_t expected, uint32_t value) {
  auto* chunk = value ? chunk_for_write(fd) : chunk_of(fd);
  if (!chunk) return expected == 0 && value == 0;
  return chunk[fd & (kChunkSize - 1)].compare_exchange_strong(
      expected, value, std::memory_order_acq_rel);
}

}  // namespace huptime
