#include "sockspec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

namespace huptime::test {
namespace {

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

// "A.B.C.D:PORT"
bool parse_inet(std::string_view rest, SockSpec* spec, std::string* error) {
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "expected tcp:ADDRESS:PORT";
    return false;
  }
  auto port = parse_port(rest.substr(colon + 1));
  std::string host(rest.substr(0, colon));
  auto* sin = reinterpret_cast<sockaddr_in*>(&spec->addr);
  if (!port || inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
    *error = "bad IPv4 address or port";
    return false;
  }
  sin->sin_family = AF_INET;
  sin->sin_port = htons(*port);
  spec->family = AF_INET;
  spec->addr_len = sizeof(sockaddr_in);
  return true;
}

// "[ADDRESS]:PORT"
bool parse_inet6(std::string_view rest, SockSpec* spec, std::string* error) {
  size_t close = rest.find("]:");
  if (rest.empty() || rest.front() != '[' || close == std::string_view::npos) {
    *error = "expected tcp6:[ADDRESS]:PORT";
    return false;
  }
  auto port = parse_port(rest.substr(close + 2));
  std::string host(rest.substr(1, close - 1));
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&spec->addr);
  if (!port || inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) {
    *error = "bad IPv6 address or port";
    return false;
  }
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(*port);
  spec->family = AF_INET6;
  spec->addr_len = sizeof(sockaddr_in6);
  return true;
}

// A path ("unix:") or an abstract name ("abstract:", stored after a NUL).
bool parse_unix(std::string_view name, bool abstract, SockSpec* spec,
                std::string* error) {
  auto* sun = reinterpret_cast<sockaddr_un*>(&spec->addr);
  size_t offset = abstract ? 1 : 0;
  if (name.empty() || name.size() + offset >= sizeof(sun->sun_path)) {
    *error = "UNIX socket name empty or too long";
    return false;
  }
  sun->sun_family = AF_UNIX;
  std::memcpy(sun->sun_path + offset, name.data(), name.size());
  spec->family = AF_UNIX;
  spec->addr_len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset +
                             name.size() + (abstract ? 0 : 1));
  if (!abstract) spec->unix_path = std::string(name);
  return true;
}

}  // namespace

std::optional<SockSpec> parse_sockspec(std::string_view text,
                                       std::string* error) {
  SockSpec spec;
  spec.text = std::string(text);
  bool ok = false;
  if (text.starts_with("tcp:"))
    ok = parse_inet(text.substr(4), &spec, error);
  else if (text.starts_with("tcp6:"))
    ok = parse_inet6(text.substr(5), &spec, error);
  else if (text.starts_with("unix:"))
    ok = parse_unix(text.substr(5), false, &spec, error);
  else if (text.starts_with("abstract:"))
    ok = parse_unix(text.substr(9), true, &spec, error);
  else
    *error = "expected tcp:, tcp6:, unix: or abstract:";
  if (!ok) return std::nullopt;
  return spec;
}

SockSpec client_view(const SockSpec& spec) {
  SockSpec view = spec;
  if (spec.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&view.addr);
    if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (spec.family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&view.addr);
    if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
      sin6->sin6_addr = in6addr_loopback;
  }
  return view;
}

}  // namespace huptime::test
