// Records of the listening sockets a process holds: identity, the
// program's view of O_NONBLOCK (the library keeps every listener
// non-blocking in the kernel, because the open file is shared with the
// other generation), epoll registrations (to take them back when the
// process stops accepting), and hand-off state (offered, claimed).
//
// Cold path only (bind, listen, epoll_ctl on a listener, restarts), so a
// plain mutex protects it. Functions named *_unlocked require the lock.
// Fixed-size storage: no allocation, safe to use in any hook.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "socket_id.h"

namespace huptime {

struct EpollReg {
  int epfd = -1;
  int fd = -1;
  uint32_t events = 0;
  uint64_t data = 0;
};

struct Listener {
  bool in_use = false;
  bool offered = false;    // inherited, waiting for the program's bind()
  bool claimed = false;    // inherited and handed to the program's bind()
  bool listening = false;  // the program called listen() (or inherited one)
  ino_t inode = 0;         // of the socket: identifies the open file
  SocketId id;
  dev_t path_dev = 0;  // the UNIX socket's file on disk, if any
  ino_t path_ino = 0;
  int refs = 0;  // fd table words pointing at this record
  static constexpr int kMaxRegs = 16;
  EpollReg regs[kMaxRegs];
  int nregs = 0;
};

class ListenerTable {
 public:
  static constexpr uint32_t kMaxListeners = 128;

  void lock() { pthread_mutex_lock(&mutex_); }
  void unlock() { pthread_mutex_unlock(&mutex_); }

  // Slot numbers start at 1 (0 means none). Returns 0 when full.
  uint32_t allocate_unlocked();
  Listener& at_unlocked(uint32_t slot) { return records_[slot - 1]; }
  void add_ref_unlocked(uint32_t slot);
  void drop_ref_unlocked(uint32_t slot);  // frees the record at zero

  // Per-listener flags kept apart from the records so that accept() reads
  // them without the lock. nonblock: the program's view of O_NONBLOCK on
  // the listener's open file. linger: its socket has SO_LINGER with a
  // timeout, which the connections accepted from it inherit (tracking.h,
  // kConnLinger).
  bool nonblock(uint32_t slot) const { return nonblock_.get(slot); }
  void set_nonblock(uint32_t slot, bool on) { nonblock_.set(slot, on); }
  bool linger(uint32_t slot) const { return linger_.get(slot); }
  void set_linger(uint32_t slot, bool on) { linger_.set(slot, on); }

  // A record's socket inode, read without the lock: it is written before
  // the slot is published in the fd table and never changes. For the exec
  // hook, which may run in a vfork child where taking the lock could hang.
  uint64_t inode_unlocked(uint32_t slot) const {
    return slot == 0 || slot > kMaxListeners ? 0 : records_[slot - 1].inode;
  }

  // The record for an open file, by socket inode; 0 if none.
  uint32_t find_inode_unlocked(ino_t inode) const;

  void add_reg_unlocked(uint32_t slot, const EpollReg& reg);
  void remove_reg_unlocked(uint32_t slot, int epfd, int fd);
  void forget_epoll_unlocked(int epfd);  // the epoll fd went away

  template <typename Fn>
  void for_each_unlocked(Fn fn) {
    for (uint32_t i = 0; i < used_; ++i)
      if (records_[i].in_use) fn(i + 1, records_[i]);
  }

  // After fork in the child: the lock may have been held by a thread that
  // does not exist here. Only valid when the fork hook held the lock.
  void reinit_after_fork() { mutex_ = PTHREAD_MUTEX_INITIALIZER; }

 private:
  // The records start all-zero, so that the table lies in .bss and costs
  // no memory until used (with Listener's -1 defaults it would be ~75 KB
  // of .data mapped from the file into every process). A record is read
  // only while in_use, and allocate_unlocked() gives it Listener{}'s
  // values first.
  union Records {
    constexpr Records() : zero{} {}
    Listener& operator[](uint32_t i) { return slots[i]; }
    const Listener& operator[](uint32_t i) const { return slots[i]; }
    Listener* begin() { return slots; }
    Listener* end() { return slots + kMaxListeners; }
    unsigned char zero[sizeof(Listener) * kMaxListeners];
    Listener slots[kMaxListeners];
  };

  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  // Records at and above used_ have never been allocated: scans stop
  // there, so that a process with a few listeners touches a page or two of
  // the table, not all ~75 KB of it (each touched page is resident memory).
  uint32_t used_ = 0;
  class SlotFlags {
   public:
    bool get(uint32_t slot) const {
      return slot && slot <= kMaxListeners &&
             flags_[slot - 1].load(std::memory_order_relaxed);
    }
    void set(uint32_t slot, bool on) {
      if (slot && slot <= kMaxListeners)
        flags_[slot - 1].store(on, std::memory_order_relaxed);
    }

   private:
    std::atomic<bool> flags_[kMaxListeners] = {};
  };
  // Ahead of records_: set for every new listener, they share the head
  // page of the table with the lock instead of touching its last page.
  SlotFlags nonblock_;
  SlotFlags linger_;
  Records records_;
};

class ListenerLock {
 public:
  explicit ListenerLock(ListenerTable& table) : table_(table) { table.lock(); }
  ~ListenerLock() { table_.unlock(); }
  ListenerLock(const ListenerLock&) = delete;
  ListenerLock& operator=(const ListenerLock&) = delete;

 private:
  ListenerTable& table_;
};

}  // namespace huptime
