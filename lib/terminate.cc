// The terminate handler of the library's own (static) copy of libstdc++.
//
// libstdc++ initialises __cxxabiv1::__terminate_handler to its verbose
// handler, which demangles the type of the uncaught exception: linking it
// pulls in the whole C++ demangler (~40 KB of code plus tables that need
// relocating), mapped and partly paged into every process the library is
// preloaded into, for a message that only an internal bug would print.
// Defining the variable here keeps the linker from taking
// eh_term_handler.o, and with it the demangler, from libstdc++.a.
//
// Only our own copy is affected: the program's std::terminate, and its
// handler, are its own. Ours still says what happened, then aborts.
#include <unistd.h>

#include <cstdlib>
#include <exception>

namespace {

[[noreturn]] void terminate_quietly() {
  static constexpr char kMessage[] =
      "huptime: terminate called (uncaught exception in libhuptime)\n";
  [[maybe_unused]] ssize_t n = write(2, kMessage, sizeof kMessage - 1);
  std::abort();
}

}  // namespace

namespace __cxxabiv1 {
// Declared by libstdc++'s unwind-cxx.h, which is not installed.
extern std::terminate_handler __terminate_handler;
std::terminate_handler __terminate_handler = terminate_quietly;
}  // namespace __cxxabiv1
