#include "master_listeners.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "master_protocol.h"

namespace huptime {

namespace {

void close_set(const std::vector<FdInode>& sockets) {
  for (const FdInode& item : sockets) close(item.fd);
}

bool has_inode(const std::vector<FdInode>& sockets, uint64_t inode) {
  return std::any_of(sockets.begin(), sockets.end(),
                     [&](const FdInode& item) { return item.inode == inode; });
}

// One report: the message and the fds that came with it (CLOEXEC). False
// when there is nothing more to read.
bool receive(int fd, MasterReport* report, std::vector<int>* fds) {
  alignas(
      cmsghdr) char control[CMSG_SPACE(sizeof(int) * MasterReport::kMaxFds)];
  iovec iov{report, sizeof *report};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n <= 0) return false;
  fds->clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      fds->push_back(got);
    }
  }
  if (static_cast<size_t>(n) != sizeof *report ||
      report->magic != MasterReport::kMagic || report->n_fds != fds->size() ||
      (msg.msg_flags & MSG_CTRUNC)) {
    for (int got : *fds) close(got);
    fds->clear();
    report->magic = 0;  // ignored
  }
  return true;
}

}  // namespace

HeldListeners::~HeldListeners() { close_all(); }

void HeldListeners::hold(const std::vector<FdInode>& sockets) {
  replace_held(sockets);
}

void HeldListeners::read_reports(int fd) {
  MasterReport report;
  std::vector<int> fds;
  while (receive(fd, &report, &fds)) {
    if (report.magic != MasterReport::kMagic) continue;
    for (size_t i = 0; i < fds.size(); ++i)
      this->report(report.generation, fds[i], report.inodes[i]);
  }
}

void HeldListeners::report(uint32_t generation, int fd, uint64_t inode) {
  // Every process of a generation reports the same sockets: keep one.
  std::vector<FdInode>& set = reported_[generation];
  if (has_inode(set, inode)) {
    close(fd);
    return;
  }
  set.push_back({fd, inode});
}

bool HeldListeners::knows(uint64_t inode) const {
  if (has_inode(held_, inode)) return true;
  return std::any_of(reported_.begin(), reported_.end(), [&](const auto& gen) {
    return has_inode(gen.second, inode);
  });
}

void HeldListeners::commit(uint32_t generation) {
  auto it = reported_.find(generation);
  if (it == reported_.end()) return;
  replace_held(std::move(it->second));
  reported_.erase(it);
  // Older reports are of generations that can no longer serve.
  for (auto old = reported_.begin(); old != reported_.end();) {
    if (old->first < generation) {
      close_set(old->second);
      old = reported_.erase(old);
    } else {
      ++old;
    }
  }
}

void HeldListeners::drop(uint32_t generation) {
  auto it = reported_.find(generation);
  if (it == reported_.end()) return;
  close_set(it->second);
  reported_.erase(it);
}

void HeldListeners::replace_held(std::vector<FdInode> sockets) {
  // The new set came with fds of its own (SCM_RIGHTS), even for sockets
  // held already: close every old fd; a socket no one uses goes with it.
  close_set(held_);
  held_ = std::move(sockets);
  for (const FdInode& item : held_) fcntl(item.fd, F_SETFD, FD_CLOEXEC);
}

void HeldListeners::close_all() {
  close_set(held_);
  held_.clear();
  for (auto& [gen, set] : reported_) close_set(set);
  reported_.clear();
}

}  // namespace huptime
