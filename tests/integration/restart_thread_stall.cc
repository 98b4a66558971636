// restart_thread_stall: a test shim, preloaded after libhuptime.so, that
// holds back the threads libhuptime starts in a forked process (a prefork
// server's worker) for HUPTIME_TEST_STALL_MS (default 3000) before they
// run.
//
// It makes one race deterministic: a worker that accepts before its own
// restart thread has run, while its generation is told to drain. Such a
// worker must stop accepting by itself (lib/listeners.cc, prepare_accept);
// otherwise it answers with the old version after the new one has answered,
// which the driver reports as stale (the race nginx's workers lost about
// once in 30 exec restarts at load, before that check).
//
// libhuptime's pthread_create() calls resolve to this one (it comes later
// in the preload chain, and libhuptime defines none); calls from anywhere
// else, and from the image's first process, pass straight through.
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*),
                         void*);

pid_t g_image_pid = getpid();

CreateFn next_create() {
  static std::atomic<CreateFn> fn{nullptr};
  CreateFn f = fn.load();
  if (!f) {
    f = reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
    fn.store(f);
  }
  return f;
}

bool from_libhuptime(const void* caller) {
  Dl_info info;
  return dladdr(caller, &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libhuptime") != nullptr;
}

long stall_ms() {
  const char* value = std::getenv("HUPTIME_TEST_STALL_MS");
  long ms = value ? std::strtol(value, nullptr, 10) : 3000;
  return ms > 0 ? ms : 0;
}

struct Held {
  void* (*start)(void*);
  void* arg;
  long ms;
};

void* held_start(void* p) {
  Held held = *static_cast<Held*>(p);
  std::free(p);
  timespec wait{held.ms / 1000, (held.ms % 1000) * 1000000};
  while (nanosleep(&wait, &wait) != 0) {
  }
  return held.start(held.arg);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
    void* arg) {
  CreateFn real = next_create();
  if (getpid() == g_image_pid || !from_libhuptime(__builtin_return_address(0)))
    return real(thread, attr, start, arg);
  auto* held = static_cast<Held*>(std::malloc(sizeof(Held)));
  if (!held) return real(thread, attr, start, arg);
  *held = {start, arg, stall_ms()};
  int rc = real(thread, attr, held_start, held);
  if (rc != 0) std::free(held);
  return rc;
}
