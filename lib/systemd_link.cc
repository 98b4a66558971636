#include "systemd_link.h"

#include <unistd.h>

#include <cstring>
#include <string>

#include "generation.h"
#include "log.h"
#include "runtime.h"
#include "service_state.h"
#include "systemd_notify.h"

namespace huptime {

namespace {

void send(const std::string& message) {
  if (!g_rt.config || g_rt.config->systemd_notify.empty()) return;
  int error = systemd_notify_send(g_rt.config->systemd_notify, message);
  if (error != 0)
    HUPTIME_LOG(kWarn, "cannot notify systemd at {}: {}",
                g_rt.config->systemd_notify, strerror(error));
  else
    HUPTIME_LOG(kDebug, "told systemd: {}", message);
}

// STOPPING=1 when the main process of the serving generation exits on its
// own (exit(), not a signal's default action): the service is stopping.
// Draining processes leave with _exit() and a re-exec does not exit, so
// neither says it.
__attribute__((destructor)) void on_exit_stopping() {
  if (!g_rt.active || !g_rt.config || g_rt.config->systemd_notify.empty())
    return;
  ServiceShared* page = service_page();
  if (!page || page->current_pid.load() != getpid() || gen_drain_announced())
    return;
  send("STOPPING=1\n");
}

}  // namespace

// Tested before the message is built: every server passes here once at
// start-up, and without systemd the ~2 KB that build it need not be in
// the part of our text it runs (lib/startup_order.ld).
void systemd_first_ready() {
  if (g_rt.config && !g_rt.config->systemd_notify.empty())
    send(systemd_ready_message(0));
}

void systemd_restart_begins() { send(systemd_reloading_message()); }

void systemd_restart_ended(bool ok, pid_t new_main, std::string_view reason) {
  std::string message = systemd_ready_message(ok ? new_main : 0);
  if (!ok) message += "STATUS=restart failed: " + std::string(reason) + "\n";
  send(message);
}

}  // namespace huptime
