#include "paths.h"

#include <vector>

namespace huptime {
namespace {

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

std::string normalize_path(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> kept;
  for (std::string_view part : split_components(path)) {
    if (part == ".") continue;
    if (part == "..") {
      if (!kept.empty() && kept.back() != "..") {
        kept.pop_back();
        continue;
      }
      if (absolute) continue;  // "/.." is "/"
    }
    kept.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += kept[i];
  }
  return out.empty() ? "." : out;
}

std::string absolute_path(std::string_view base, std::string_view path) {
  if (!path.empty() && path.front() == '/') return normalize_path(path);
  std::string joined(base);
  joined += '/';
  joined += path;
  return normalize_path(joined);
}

std::string dirname(std::string_view path) {
  std::string normal = normalize_path(path);
  size_t slash = normal.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return normal.substr(0, slash);
}

std::string relative_path(std::string_view from, std::string_view to) {
  std::string from_normal = normalize_path(from);
  std::string to_normal = normalize_path(to);
  std::vector<std::string_view> a = split_components(from_normal);
  std::vector<std::string_view> b = split_components(to_normal);
  size_t common = 0;
  while (common < a.size() && common < b.size() && a[common] == b[common])
    ++common;
  std::string out;
  for (size_t i = common; i < a.size(); ++i) out += out.empty() ? ".." : "/..";
  for (size_t i = common; i < b.size(); ++i) {
    if (!out.empty()) out += '/';
    out += b[i];
  }
  return out.empty() ? "." : out;
}

bool has_no_dot_components(std::string_view path) {
  for (std::string_view part : split_components(path))
    if (part == "." || part == "..") return false;
  return true;
}

}  // namespace huptime
