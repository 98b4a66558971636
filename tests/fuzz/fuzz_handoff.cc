// HUPTIME_FDS, as any process could set it before starting a program under
// huptime (lib/handoff.h). decode_handoff must accept only well-formed
// values; what it accepts must encode and decode back to the same Handoff,
// and the fixed-width pid must be patchable in place.
#include <cstring>

#include "fuzz_support.h"
#include "handoff.h"

using huptime::FdInode;
using huptime::Handoff;

namespace {

bool same_list(const FdInode* a, int na, const FdInode* b, int nb) {
  if (na != nb) return false;
  for (int i = 0; i < na; ++i)
    if (a[i].fd != b[i].fd || a[i].inode != b[i].inode) return false;
  return true;
}

bool same(const Handoff& a, const Handoff& b) {
  return a.pid == b.pid && a.generation == b.generation &&
         a.ready_fd == b.ready_fd && a.state_fd == b.state_fd &&
         a.latch_fd == b.latch_fd && a.svc_fd == b.svc_fd &&
         same_list(a.listen, a.n_listen, b.listen, b.n_listen) &&
         same_list(a.own, a.n_own, b.own, b.n_own);
}

// Every fd the decoder hands out is >= 0 or -1 for "none", and the lists
// stay within their arrays.
void check_sane(const Handoff& h) {
  FUZZ_CHECK(h.ready_fd >= -1 && h.state_fd >= -1 && h.latch_fd >= -1 &&
             h.svc_fd >= -1);
  FUZZ_CHECK(h.n_listen >= 0 && h.n_listen <= Handoff::kMaxFds);
  FUZZ_CHECK(h.n_own >= 0 && h.n_own <= Handoff::kMaxFds);
  for (int i = 0; i < h.n_listen; ++i)
    FUZZ_CHECK(h.listen[i].fd >= 0 && h.listen[i].inode != 0);
  for (int i = 0; i < h.n_own; ++i)
    FUZZ_CHECK(h.own[i].fd >= 0 && h.own[i].inode != 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Handoff first, second;  // 2 KiB each: off the fuzzer's stack
  first = Handoff{};
  if (!huptime::decode_handoff(huptime::fuzz::as_text(data, size), &first))
    return 0;
  check_sane(first);

  static char encoded[16384];
  size_t n = huptime::encode_handoff(first, encoded, sizeof encoded);
  FUZZ_CHECK(n > 0 && n < sizeof encoded && encoded[n] == '\0');
  FUZZ_CHECK(std::strlen(encoded) == n);
  second = Handoff{};
  FUZZ_CHECK(huptime::decode_handoff({encoded, n}, &second));
  FUZZ_CHECK(same(first, second));

  // The clone() child's in-place pid patch keeps the rest intact.
  {
    pid_t other = first.pid > 1 ? first.pid - 1 : 2;
    FUZZ_CHECK(huptime::patch_handoff_pid(encoded, other));
    FUZZ_CHECK(std::strlen(encoded) == n);
    second = Handoff{};
    FUZZ_CHECK(huptime::decode_handoff({encoded, n}, &second));
    FUZZ_CHECK(second.pid == other);
    second.pid = first.pid;
    FUZZ_CHECK(same(first, second));
  }

  // Too small a buffer: 0, never a partial value.
  char small[8];
  FUZZ_CHECK(huptime::encode_handoff(first, small, sizeof small) == 0 ||
             n < sizeof small);
  return 0;
}
