// Unit tests for the launcher's file inspection: ELF headers (is COMMAND
// statically linked?) and where libhuptime.so is looked for.
#include "launcher_test_support.h"

using namespace huptime;
using namespace huptime::launcher_test;

// -------------------------------------------------------------------- elf

TEST_CASE("elf: synthetic 64-bit headers", "[elf]") {
  std::string static_exe = elf64({PT_LOAD, PT_LOAD, PT_GNU_STACK});
  std::string dynamic_exe = elf64({PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC});
  CHECK(elf_is_static(as_bytes(static_exe)));
  CHECK_FALSE(elf_is_static(as_bytes(dynamic_exe)));
  CHECK(elf_bytes_needed(as_bytes(static_exe)) == static_exe.size());
  // static-pie: ET_DYN without an interpreter.
  CHECK(elf_is_static(as_bytes(elf64({PT_LOAD}, ET_DYN))));
  CHECK_FALSE(elf_is_static(as_bytes(elf64({PT_LOAD}, ET_REL))));
  CHECK_FALSE(elf_is_static(as_bytes(elf64({}))));
  CHECK(elf_bytes_needed(as_bytes(elf64({}))) == 0);
}

TEST_CASE("elf: synthetic 32-bit headers", "[elf]") {
  std::string static_exe = elf32({PT_LOAD});
  CHECK(elf_is_static(as_bytes(static_exe)));
  CHECK(elf_bytes_needed(as_bytes(static_exe)) ==
        sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr));
  CHECK_FALSE(elf_is_static(as_bytes(elf32({PT_LOAD, PT_INTERP}))));
}

TEST_CASE("elf: anything that is not a complete native ELF is not static",
          "[elf]") {
  std::string image = elf64({PT_LOAD, PT_LOAD});
  CHECK_FALSE(elf_is_static(as_bytes(image.substr(0, image.size() - 1))));
  CHECK_FALSE(elf_is_static(as_bytes(image.substr(0, 10))));
  CHECK_FALSE(elf_is_static({}));
  std::string bad_magic = image;
  bad_magic[1] = 'X';
  CHECK_FALSE(elf_is_static(as_bytes(bad_magic)));
  std::string foreign = image;
  foreign[EI_DATA] = ELFDATA2MSB;
  CHECK_FALSE(elf_is_static(as_bytes(foreign)));
  std::string bad_class = image;
  bad_class[EI_CLASS] = 7;
  CHECK_FALSE(elf_is_static(as_bytes(bad_class)));
  CHECK_FALSE(elf_is_static(as_bytes(std::string("#!/bin/sh\necho\n"))));
}

TEST_CASE("elf: real files", "[elf]") {
  TempDir tmp;
  CHECK_FALSE(file_is_static_elf("/bin/true"));  // dynamic
  CHECK_FALSE(file_is_static_elf("/bin/sh"));
  std::string real = read_file("/bin/true");
  REQUIRE(elf_bytes_needed(as_bytes(real)) > 0);
  CHECK_FALSE(elf_is_static(as_bytes(real)));
  std::string made_static = tmp.write("static", strip_interp(real), 0755);
  CHECK(file_is_static_elf(made_static));
  CHECK(file_is_static_elf(tmp.write("tiny", elf64({PT_LOAD}), 0755)));
  CHECK_FALSE(file_is_static_elf(tmp.write("script", "#!/bin/sh\n", 0755)));
  CHECK_FALSE(file_is_static_elf(tmp.write("empty", "", 0755)));
  CHECK_FALSE(file_is_static_elf(tmp / "missing"));
  CHECK_FALSE(file_is_static_elf(tmp.path()));
  std::string fifo = tmp / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(file_is_static_elf(fifo));  // and does not block
}

namespace {

// One ELF note: header, name padded to 4, description padded to 4.
std::string note(uint32_t type, std::string name, std::string desc) {
  Elf64_Nhdr header{static_cast<Elf64_Word>(name.size()),
                    static_cast<Elf64_Word>(desc.size()), type};
  std::string out(reinterpret_cast<const char*>(&header), sizeof header);
  name.resize((name.size() + 3) & ~size_t{3}, '\0');
  desc.resize((desc.size() + 3) & ~size_t{3}, '\0');
  return out + name + desc;
}

}  // namespace

TEST_CASE("elf: the Go build-id note", "[elf][go]") {
  using namespace std::string_literals;
  std::string gnu = note(3, "GNU\0"s, std::string(20, 'x'));
  // As the Go linker writes it: "Go\0\0", n_namesz 4, type 4.
  std::string go = note(4, "Go\0\0"s, "abc/def/ghi");
  CHECK(notes_have_go_buildid(as_bytes(gnu + go)));
  CHECK(notes_have_go_buildid(as_bytes(note(4, "Go\0"s, "id"))));
  CHECK_FALSE(notes_have_go_buildid(as_bytes(gnu)));
  CHECK_FALSE(notes_have_go_buildid(as_bytes(note(3, "Go\0\0"s, "id"))));
  CHECK_FALSE(notes_have_go_buildid(as_bytes(note(4, "Gx\0\0"s, "id"))));
  // Cut short anywhere: never read past the end, never a match.
  std::string both = gnu + go;
  for (size_t n = 0; n < gnu.size() + sizeof(Elf64_Nhdr) + 3; ++n)
    CHECK_FALSE(notes_have_go_buildid(as_bytes(both.substr(0, n))));
  Elf64_Nhdr huge{0xfffffff0u, 0xfffffff0u, 4};
  CHECK_FALSE(notes_have_go_buildid(as_bytes(
      std::string(reinterpret_cast<const char*>(&huge), sizeof huge))));
}

TEST_CASE("elf: why the preload cannot see a program", "[elf]") {
  TempDir tmp;
  CHECK(preload_blind_reason("/bin/true").empty());
  CHECK(preload_blind_reason(tmp.write("tiny", elf64({PT_LOAD}), 0755)) ==
        "statically linked");
  CHECK(preload_blind_reason(tmp.write("script", "#!/bin/sh\n", 0755)).empty());
  CHECK(preload_blind_reason(tmp / "missing").empty());
  if (access("/usr/bin/caddy", R_OK) == 0)
    CHECK(preload_blind_reason("/usr/bin/caddy") == "a Go program");
}

// ----------------------------------------------------------- library path

TEST_CASE("library: relative path from bindir to the huptime libdir",
          "[library]") {
  CHECK(installed_relative_libdir("/usr", "bin", "lib/huptime") ==
        "../lib/huptime");
  CHECK(installed_relative_libdir("/usr/local", "bin",
                                  "lib/x86_64-linux-gnu/huptime") ==
        "../lib/x86_64-linux-gnu/huptime");
  CHECK(installed_relative_libdir("/usr", "/opt/tools/bin", "lib/huptime") ==
        "../../../usr/lib/huptime");
  CHECK(installed_relative_libdir("/usr", "bin", "/usr/lib64/huptime") ==
        "../lib64/huptime");
}

TEST_CASE("library: candidates, installed layout first", "[library]") {
  CHECK(library_candidates("/usr/bin/huptime", "../lib/huptime") ==
        strings({"/usr/lib/huptime/libhuptime.so", "/usr/lib/libhuptime.so"}));
  CHECK(library_candidates("/w/build/launcher/huptime", "../lib/huptime") ==
        strings({"/w/build/lib/huptime/libhuptime.so",
                 "/w/build/lib/libhuptime.so"}));
  // Installed layout and build tree coincide: listed once.
  CHECK(library_candidates("/x/bin/huptime", "../lib") ==
        strings({"/x/lib/libhuptime.so"}));
  CHECK(library_candidates("", "../lib/huptime").empty());
}

TEST_CASE("library: lookup order", "[library]") {
  std::set<std::string> files;
  auto exists = [&](const std::string& path) { return files.count(path) > 0; };
  const char* exe = "/opt/hup/bin/huptime";

  files = {"/opt/hup/lib/huptime/libhuptime.so", "/opt/hup/lib/libhuptime.so"};
  LibraryLookup found =
      find_library(nullptr, "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/opt/hup/lib/huptime/libhuptime.so");
  CHECK(found.error.empty());

  files = {"/opt/hup/lib/libhuptime.so"};
  found = find_library("", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/opt/hup/lib/libhuptime.so");

  files = {"/cwd/my/libhuptime.so", "/opt/hup/lib/libhuptime.so"};
  found =
      find_library("my/./libhuptime.so", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path == "/cwd/my/libhuptime.so");

  // A HUPTIME_LIBRARY that does not exist is an error, not a fallback.
  found = find_library("/nope.so", "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK(found.error ==
        "HUPTIME_LIBRARY=/nope.so does not name a file (unset it to use the "
        "installed library)");

  files.clear();
  found = find_library(nullptr, "/cwd", exe, "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK(found.error ==
        "cannot find libhuptime.so (looked in: "
        "/opt/hup/lib/huptime/libhuptime.so, /opt/hup/lib/libhuptime.so); "
        "set HUPTIME_LIBRARY to its path");

  found = find_library(nullptr, "/cwd", "", "../lib/huptime", exists);
  CHECK(found.path.empty());
  CHECK_THAT(found.error, Catch::Contains("/proc/self/exe"));
}

TEST_CASE("library: real filesystem checks", "[library]") {
  TempDir tmp;
  CHECK(library_file_exists(tmp.write("libhuptime.so", "x", 0644)));
  CHECK_FALSE(library_file_exists(tmp.path()));
  CHECK_FALSE(library_file_exists(tmp / "missing"));
  std::string self = self_exe_path();
  CHECK(self.front() == '/');
  CHECK(self.ends_with("/test_launcher_options"));
}
