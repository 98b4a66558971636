// Helpers shared by the launcher unit tests (test_launcher_*.cc): scratch
// directories, file contents, synthetic ELF images.
#pragma once

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "help.h"
#include "launch_env.h"
#include "library_path.h"
#include "options.h"
#include "paths.h"
#include "process_state.h"
#include "resolve.h"
#include "static_elf.h"

namespace huptime::launcher_test {

inline ParseResult parse(const std::vector<const char*>& args,
                         std::string_view cwd = "/srv/app") {
  return parse_options(args, cwd);
}

inline std::vector<std::string> strings(std::vector<const char*> items) {
  return {items.begin(), items.end()};
}

// A scratch directory, removed (with its contents) at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/huptime-launcher-test.XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

  std::string write(std::string_view name, std::string_view content,
                    mode_t mode) const {
    std::string file = *this / name;
    std::ofstream out(file, std::ios::binary);
    out << content;
    out.close();
    REQUIRE(chmod(file.c_str(), mode) == 0);
    return file;
  }

  std::string mkdir(std::string_view name) const {
    std::string dir = *this / name;
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    return dir;
  }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::span<const unsigned char> as_bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// A minimal native ELF image: header, then `types.size()` program headers.
template <typename Ehdr, typename Phdr>
std::string synthetic_elf(unsigned char elf_class, uint16_t type,
                          const std::vector<uint32_t>& types) {
  Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = elf_class;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = type;
  header.e_version = EV_CURRENT;
  header.e_phoff = sizeof(Ehdr);
  header.e_ehsize = sizeof(Ehdr);
  header.e_phentsize = sizeof(Phdr);
  header.e_phnum = static_cast<uint16_t>(types.size());
  std::string image(reinterpret_cast<const char*>(&header), sizeof header);
  for (uint32_t p_type : types) {
    Phdr phdr{};
    phdr.p_type = p_type;
    image.append(reinterpret_cast<const char*>(&phdr), sizeof phdr);
  }
  return image;
}

inline std::string elf64(const std::vector<uint32_t>& types,
                         uint16_t type = ET_EXEC) {
  return synthetic_elf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, type, types);
}

inline std::string elf32(const std::vector<uint32_t>& types,
                         uint16_t type = ET_EXEC) {
  return synthetic_elf<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, type, types);
}

// Rewrites every PT_INTERP of a native 64-bit ELF image into PT_NULL: the
// program headers of a static executable, from a real dynamic one.
inline std::string strip_interp(std::string image) {
  Elf64_Ehdr header;
  REQUIRE(image.size() >= sizeof header);
  std::memcpy(&header, image.data(), sizeof header);
  REQUIRE(header.e_ident[EI_CLASS] == ELFCLASS64);
  for (size_t i = 0; i < header.e_phnum; ++i) {
    size_t at = header.e_phoff + i * sizeof(Elf64_Phdr);
    Elf64_Phdr phdr;
    std::memcpy(&phdr, image.data() + at, sizeof phdr);
    if (phdr.p_type == PT_INTERP) phdr.p_type = PT_NULL;
    std::memcpy(image.data() + at, &phdr, sizeof phdr);
  }
  return image;
}

}  // namespace huptime::launcher_test
