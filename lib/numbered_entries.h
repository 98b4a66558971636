// Walking a /proc directory whose entries are numbers (/proc/self/task,
// /proc/self/fd) with getdents64 into a stack buffer: no allocation and no
// libc directory stream, so it may run where malloc may not (parking the
// program's threads, just before a re-exec).
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "raw_syscall.h"

namespace huptime {

// Calls fn(number) for each entry of the open directory `dir` whose name
// is a decimal number ("." and ".." are skipped).
template <class Fn>
void for_each_numbered_entry(int dir, Fn&& fn) {
  alignas(8) char buf[2048];
  for (;;) {
    long got = raw_syscall6(SYS_getdents64, dir, reinterpret_cast<long>(buf),
                            sizeof buf);
    if (got <= 0) return;
    for (long at = 0; at < got;) {
      auto* entry = reinterpret_cast<dirent64*>(buf + at);
      at += entry->d_reclen;
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      fn(atol(entry->d_name));
    }
  }
}

}  // namespace huptime
