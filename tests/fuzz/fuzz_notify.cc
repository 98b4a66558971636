// sd_notify datagrams (lib/notify_socket.h): any process of the service's
// user can send them. Numbers are kept only when valid, flags only for "1",
// and STATUS= is the text of the last STATUS line.
#include "fuzz_support.h"
#include "notify_socket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = huptime::fuzz::as_text(data, size);
  huptime::NotifyMessage msg = huptime::parse_notify_message(text);
  FUZZ_CHECK(msg.errno_value >= 0 && msg.main_pid >= 0);
  FUZZ_CHECK(msg.status.find('\n') == std::string::npos);
  FUZZ_CHECK(msg.status.size() <= text.size());
  FUZZ_CHECK(msg.sender_pid == 0 && msg.sender_uid == 0);
  if (msg.ready) FUZZ_CHECK(text.find("READY=1") != std::string_view::npos);
  if (msg.stopping)
    FUZZ_CHECK(text.find("STOPPING=1") != std::string_view::npos);
  if (msg.reloading)
    FUZZ_CHECK(text.find("RELOADING=1") != std::string_view::npos);
  // No line READY=1 without a newline after it: a datagram cut in the
  // middle of "READY=10" must not count as ready.
  if (text.find("READY") == std::string_view::npos) FUZZ_CHECK(!msg.ready);
  return 0;
}
