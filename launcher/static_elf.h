// Is COMMAND a statically linked ELF executable?
//
// The library reaches a program only through the dynamic loader's
// LD_PRELOAD. A static executable has no loader (no PT_INTERP program
// header), so huptime cannot see its sockets; the launcher warns about it.
// Only the host's own byte order is understood (32- and 64-bit); anything
// else, scripts included, counts as "not static" and gets no warning.
// (Not named elf.h, so that <elf.h> still finds the system header.)
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace huptime {

// How many bytes from the start of the file cover the ELF header and the
// program header table, judged from `prefix` (at least the ELF header).
// 0 when `prefix` is not a native executable ELF header (ET_EXEC or ET_DYN)
// with a program header table.
size_t elf_bytes_needed(std::span<const unsigned char> prefix);

// True when `bytes` (the start of a file, at least elf_bytes_needed() long)
// is a native ELF executable whose program headers have no PT_INTERP.
// False for anything else, including truncated input.
bool elf_is_static(std::span<const unsigned char> bytes);

// Reads just enough of the file at `path` to apply elf_is_static(). False
// when the file cannot be read; never blocks on a FIFO; opens with O_CLOEXEC.
bool file_is_static_elf(const std::string& path);

// Go programs make their own system calls even when dynamically linked (a
// preloaded bind() never runs), and carry a "Go" build-id note (type 4) in
// a PT_NOTE segment. Where those segments lie, from the same bytes as
// elf_is_static(): {offset, size} pairs.
std::vector<std::pair<size_t, size_t>> elf_note_segments(
    std::span<const unsigned char> bytes);

// True when `notes` (the contents of one PT_NOTE segment) holds a note
// owned by "Go" of type 4 (the Go build id; name "Go\0", padded or not).
bool notes_have_go_buildid(std::span<const unsigned char> notes);

// Why the preloaded library cannot see the program at `path`: "statically
// linked", "a Go program", or "" when it can (or the file cannot be read).
std::string preload_blind_reason(const std::string& path);

}  // namespace huptime
