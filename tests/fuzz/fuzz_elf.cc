// The launcher reads the start of COMMAND's file to warn about static
// executables (launcher/static_elf.h): any file, from anyone. Never reads
// past the bytes given; a prefix shorter than what elf_bytes_needed asks
// for is never called static.
#include "fuzz_support.h"
#include "static_elf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy, so that ASan sees any read past the end.
  std::vector<unsigned char> bytes(data, data + size);
  std::span<const unsigned char> all(bytes.data(), bytes.size());
  size_t needed = huptime::elf_bytes_needed(all);
  bool is_static = huptime::elf_is_static(all);
  if (is_static) FUZZ_CHECK(needed > 0 && needed <= size);
  if (needed > 1) FUZZ_CHECK(!huptime::elf_is_static(all.first(needed - 1)));
  return 0;
}
