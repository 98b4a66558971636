// Lexical path arithmetic for the launcher.
//
// Everything here works on strings only: no stat(), no symlink resolution.
// The launcher needs this because the paths it hands to the library must be
// absolute and stable (a relative --unlink=run/app.pid must keep naming the
// same file after the service chdir()s), yet they may not exist yet.
#pragma once

#include <string>
#include <string_view>

namespace huptime {

// "/a//b/./c/../d/" -> "/a/b/d". A ".." at the root stays at the root; in a
// relative path leading ".." components are kept. "" normalizes to ".".
std::string normalize_path(std::string_view path);

// `path` if it is absolute, else base/path; normalized. `base` must be
// absolute for the result to be absolute.
std::string absolute_path(std::string_view base, std::string_view path);

// The directory part: "/a/b/c" -> "/a/b", "/a" -> "/", "a" -> ".".
std::string dirname(std::string_view path);

// The relative path that leads from directory `from` to directory `to`,
// both absolute: ("/usr/bin", "/usr/lib/huptime") -> "../lib/huptime".
// Returns "." when they are the same directory.
std::string relative_path(std::string_view from, std::string_view to);

// True when `path` has no "." or ".." component: POSIX requires this of
// $PWD before a shell may trust it as the logical working directory.
bool has_no_dot_components(std::string_view path);

}  // namespace huptime
