// Creating a service page (shared_state.h ServiceShared) in a new memfd:
// by the first generation (service_state.cc), or by `huptime --master`,
// which then hands it to every generation it starts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "config.h"
#include "shared_state.h"

namespace huptime {

struct NewServicePage {
  int fd = -1;  // CLOEXEC; -1 on failure (errno set)
  ServiceShared* page = nullptr;
  size_t size = 0;
};

// A page for `config` with `mode` (kPageMode*), published (magic set).
NewServicePage create_service_page(const LaunchConfig& config, uint32_t mode);

}  // namespace huptime
