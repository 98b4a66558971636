#include "service_page.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "clock.h"
#include "env_codec.h"
#include "raw_syscall.h"

namespace huptime {

NewServicePage create_service_page(const LaunchConfig& config, uint32_t mode) {
  NewServicePage out;
  std::string argv = encode_list(config.argv);
  // getpagesize(), not sysconf(_SC_PAGESIZE): the same value, but
  // sysconf's switch reads a jump table in a 64 KiB window of libc's
  // .rodata that nothing else a server runs at start-up touches.
  size_t page_bytes = static_cast<size_t>(getpagesize());
  size_t size = (ServiceShared::kHeaderSize + argv.size() + page_bytes - 1) /
                page_bytes * page_bytes;
  int fd = memfd_create(kServiceMemfdName, MFD_CLOEXEC);
  if (fd < 0) return out;
  void* mem = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(size)) == 0)
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) {
    int error = errno;
    raw_syscall6(SYS_close, fd);  // not the library's close hook
    errno = error;
    return out;
  }
  auto* page = static_cast<ServiceShared*>(mem);
  memcpy(static_cast<char*>(mem) + ServiceShared::kHeaderSize, argv.data(),
         argv.size());
  page->argv_len.store(static_cast<uint32_t>(argv.size()));
  page->layout.store(ServiceShared::kLayout);
  page->mode.store(mode);
  page->restart_signal.store(config.restart_signal);
  page->max_draining.store(config.max_draining);
  page->start_timeout_ms.store(config.start_timeout_ms);
  page->drain_timeout_ms.store(config.drain_timeout_ms);
  page->created_ms.store(monotonic_ms());
  page->magic.store(ServiceShared::kMagic, std::memory_order_release);
  out.fd = fd;
  out.page = page;
  out.size = size;
  return out;
}

}  // namespace huptime
