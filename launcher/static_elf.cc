#include "static_elf.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace huptime {
namespace {

// Real program header tables are a few hundred bytes; refuse absurd ones
// rather than read megabytes of a corrupt file.
constexpr size_t kMaxHeaderBytes = 1 << 20;

constexpr unsigned char kNativeData =
    std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;

// Where the program header table lies.
struct PhdrTable {
  size_t offset;
  size_t count;
  size_t end;
};

// EI_CLASS of a native ELF file, or 0.
unsigned char native_elf_class(std::span<const unsigned char> bytes) {
  if (bytes.size() < EI_NIDENT) return 0;
  if (std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) return 0;
  if (bytes[EI_DATA] != kNativeData || bytes[EI_VERSION] != EV_CURRENT)
    return 0;
  unsigned char elf_class = bytes[EI_CLASS];
  return elf_class == ELFCLASS32 || elf_class == ELFCLASS64 ? elf_class : 0;
}

template <typename Ehdr, typename Phdr>
std::optional<PhdrTable> phdr_table(std::span<const unsigned char> bytes) {
  Ehdr header;
  if (bytes.size() < sizeof header) return std::nullopt;
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.e_type != ET_EXEC && header.e_type != ET_DYN) return std::nullopt;
  // PN_XNUM (extended numbering) never occurs in executables worth warning
  // about; treat it as "cannot tell".
  if (header.e_phentsize != sizeof(Phdr) || header.e_phnum == 0 ||
      header.e_phnum >= PN_XNUM || header.e_phoff < sizeof header ||
      header.e_phoff > kMaxHeaderBytes)
    return std::nullopt;
  size_t offset = header.e_phoff;
  size_t count = header.e_phnum;
  return PhdrTable{offset, count, offset + count * sizeof(Phdr)};
}

template <typename Ehdr, typename Phdr>
bool has_no_interp(std::span<const unsigned char> bytes) {
  std::optional<PhdrTable> table = phdr_table<Ehdr, Phdr>(bytes);
  if (!table || table->end > bytes.size()) return false;
  for (size_t i = 0; i < table->count; ++i) {
    Phdr phdr;
    std::memcpy(&phdr, bytes.data() + table->offset + i * sizeof phdr,
                sizeof phdr);
    if (phdr.p_type == PT_INTERP) return false;
  }
  return true;
}

template <typename Ehdr, typename Phdr>
std::vector<std::pair<size_t, size_t>> note_segments(
    std::span<const unsigned char> bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  std::optional<PhdrTable> table = phdr_table<Ehdr, Phdr>(bytes);
  if (!table || table->end > bytes.size()) return out;
  for (size_t i = 0; i < table->count; ++i) {
    Phdr phdr;
    std::memcpy(&phdr, bytes.data() + table->offset + i * sizeof phdr,
                sizeof phdr);
    if (phdr.p_type == PT_NOTE && phdr.p_filesz > 0 &&
        phdr.p_filesz <= kMaxHeaderBytes)
      out.emplace_back(phdr.p_offset, phdr.p_filesz);
  }
  return out;
}

// Reads up to `size` bytes at `offset`; returns how many were read.
size_t read_at(int fd, unsigned char* buffer, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, buffer + done, size - done,
                      offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

size_t elf_bytes_needed(std::span<const unsigned char> prefix) {
  std::optional<PhdrTable> table;
  switch (native_elf_class(prefix)) {
    case ELFCLASS32:
      table = phdr_table<Elf32_Ehdr, Elf32_Phdr>(prefix);
      break;
    case ELFCLASS64:
      table = phdr_table<Elf64_Ehdr, Elf64_Phdr>(prefix);
      break;
    default:
      break;
  }
  return table ? table->end : 0;
}

bool elf_is_static(std::span<const unsigned char> bytes) {
  switch (native_elf_class(bytes)) {
    case ELFCLASS32:
      return has_no_interp<Elf32_Ehdr, Elf32_Phdr>(bytes);
    case ELFCLASS64:
      return has_no_interp<Elf64_Ehdr, Elf64_Phdr>(bytes);
    default:
      return false;
  }
}

std::vector<std::pair<size_t, size_t>> elf_note_segments(
    std::span<const unsigned char> bytes) {
  switch (native_elf_class(bytes)) {
    case ELFCLASS32:
      return note_segments<Elf32_Ehdr, Elf32_Phdr>(bytes);
    case ELFCLASS64:
      return note_segments<Elf64_Ehdr, Elf64_Phdr>(bytes);
    default:
      return {};
  }
}

bool notes_have_go_buildid(std::span<const unsigned char> notes) {
  // Elf32_Nhdr and Elf64_Nhdr are the same three 32-bit words; name and
  // description are padded to 4 bytes.
  constexpr uint32_t kGoBuildIdTag = 4;
  size_t at = 0;
  while (at + sizeof(Elf32_Nhdr) <= notes.size()) {
    Elf32_Nhdr note;
    std::memcpy(&note, notes.data() + at, sizeof note);
    at += sizeof note;
    size_t name_size = (size_t{note.n_namesz} + 3) & ~size_t{3};
    size_t desc_size = (size_t{note.n_descsz} + 3) & ~size_t{3};
    if (name_size > notes.size() - at) return false;
    // The Go linker writes the name padded: n_namesz 4, "Go\0\0".
    if (note.n_type == kGoBuildIdTag &&
        (note.n_namesz == 3 || note.n_namesz == 4) &&
        std::memcmp(notes.data() + at, "Go", 3) == 0)
      return true;
    at += name_size;
    if (desc_size > notes.size() - at) return false;
    at += desc_size;
  }
  return false;
}

namespace {

// Opens `path` (a regular file only; never blocks on a FIFO) and calls
// `inspect(fd, headers)` with its ELF header and program header table.
// `otherwise` when the file cannot be read or is not a native ELF.
template <typename T, typename Inspect>
T with_elf_headers(const std::string& path, T otherwise, Inspect inspect) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return otherwise;
  T result = otherwise;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::vector<unsigned char> bytes(sizeof(Elf64_Ehdr));
    bytes.resize(read_at(fd, bytes.data(), bytes.size(), 0));
    size_t needed = elf_bytes_needed(bytes);
    if (needed > 0 && needed <= kMaxHeaderBytes) {
      bytes.resize(needed);
      bytes.resize(read_at(fd, bytes.data(), needed, 0));
      result = inspect(fd, bytes);
    }
  }
  close(fd);
  return result;
}

}  // namespace

std::string preload_blind_reason(const std::string& path) {
  return with_elf_headers<std::string>(
      path, "", [](int fd, const std::vector<unsigned char>& bytes) {
        for (auto [offset, size] : elf_note_segments(bytes)) {
          std::vector<unsigned char> notes(size);
          notes.resize(
              read_at(fd, notes.data(), size, static_cast<off_t>(offset)));
          if (notes_have_go_buildid(notes)) return std::string("a Go program");
        }
        return std::string(elf_is_static(bytes) ? "statically linked" : "");
      });
}

bool file_is_static_elf(const std::string& path) {
  return with_elf_headers<bool>(
      path, false, [](int, const std::vector<unsigned char>& bytes) {
        return elf_is_static(bytes);
      });
}

}  // namespace huptime
