#include "listener_table.h"

namespace huptime {

uint32_t ListenerTable::allocate_unlocked() {
  for (uint32_t i = 0; i < kMaxListeners; ++i) {
    if (records_[i].in_use) continue;
    records_[i] = Listener{};
    records_[i].in_use = true;
    if (i >= used_) used_ = i + 1;
    return i + 1;
  }
  return 0;
}

void ListenerTable::add_ref_unlocked(uint32_t slot) {
  if (slot == 0 || slot > kMaxListeners) return;
  ++records_[slot - 1].refs;
}

void ListenerTable::drop_ref_unlocked(uint32_t slot) {
  if (slot == 0 || slot > kMaxListeners) return;
  Listener& l = records_[slot - 1];
  if (--l.refs <= 0) l = Listener{};
}

uint32_t ListenerTable::find_inode_unlocked(ino_t inode) const {
  for (uint32_t i = 0; i < used_; ++i)
    if (records_[i].in_use && records_[i].inode == inode) return i + 1;
  return 0;
}

void ListenerTable::add_reg_unlocked(uint32_t slot, const EpollReg& reg) {
  Listener& l = at_unlocked(slot);
  for (int i = 0; i < l.nregs; ++i) {
    if (l.regs[i].epfd == reg.epfd && l.regs[i].fd == reg.fd) {
      l.regs[i] = reg;
      return;
    }
  }
  if (l.nregs < Listener::kMaxRegs) l.regs[l.nregs++] = reg;
}

void ListenerTable::remove_reg_unlocked(uint32_t slot, int epfd, int fd) {
  Listener& l = at_unlocked(slot);
  for (int i = 0; i < l.nregs; ++i) {
    if (l.regs[i].epfd == epfd && l.regs[i].fd == fd) {
      l.regs[i] = l.regs[--l.nregs];
      return;
    }
  }
}

void ListenerTable::forget_epoll_unlocked(int epfd) {
  for (uint32_t s = 0; s < used_; ++s) {
    Listener& l = records_[s];
    if (!l.in_use) continue;
    for (int i = 0; i < l.nregs;) {
      if (l.regs[i].epfd == epfd)
        l.regs[i] = l.regs[--l.nregs];
      else
        ++i;
    }
  }
}

}  // namespace huptime
