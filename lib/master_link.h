// The library's side of `huptime --master` (master_protocol.h): when a
// process has taken over every listener of its generation, it reports them
// to the master, once. Without a master socket this does nothing.
#pragma once

namespace huptime {

// Cold path (once per process); takes the listener lock. Never blocks.
void master_report_listeners();

}  // namespace huptime
