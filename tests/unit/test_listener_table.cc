// lib/listener_table: the records of listening sockets and their epoll
// registrations.
#include <sys/epoll.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "listener_table.h"

using namespace huptime;

namespace {

// The table is ~80 KiB: keep it off the stack.
std::unique_ptr<ListenerTable> make_table() {
  return std::make_unique<ListenerTable>();
}

std::vector<uint32_t> in_use(ListenerTable& table) {
  std::vector<uint32_t> slots;
  table.for_each_unlocked([&](uint32_t slot, Listener& l) {
    CHECK(l.in_use);
    slots.push_back(slot);
  });
  return slots;
}

EpollReg reg(int epfd, int fd, uint32_t events = EPOLLIN, uint64_t data = 0) {
  EpollReg r;
  r.epfd = epfd;
  r.fd = fd;
  r.events = events;
  r.data = data;
  return r;
}

// (epfd, fd) pairs registered on a record, order-independent.
std::set<std::pair<int, int>> regs_of(ListenerTable& table, uint32_t slot) {
  std::set<std::pair<int, int>> out;
  Listener& l = table.at_unlocked(slot);
  REQUIRE(l.nregs >= 0);
  REQUIRE(l.nregs <= Listener::kMaxRegs);
  for (int i = 0; i < l.nregs; ++i) out.emplace(l.regs[i].epfd, l.regs[i].fd);
  CHECK(out.size() == static_cast<size_t>(l.nregs));  // no duplicates
  return out;
}

}  // namespace

TEST_CASE("listener_table: allocate until full", "[listener_table]") {
  auto table = make_table();
  ListenerLock lock(*table);
  CHECK(in_use(*table).empty());
  std::set<uint32_t> slots;
  for (uint32_t i = 0; i < ListenerTable::kMaxListeners; ++i) {
    uint32_t slot = table->allocate_unlocked();
    REQUIRE(slot >= 1);
    REQUIRE(slot <= ListenerTable::kMaxListeners);
    Listener& l = table->at_unlocked(slot);
    CHECK(l.in_use);
    CHECK(l.refs == 0);
    CHECK_FALSE(l.offered);
    CHECK(l.nregs == 0);
    slots.insert(slot);
  }
  CHECK(slots.size() == ListenerTable::kMaxListeners);
  CHECK(table->allocate_unlocked() == 0);
  CHECK(table->allocate_unlocked() == 0);
  CHECK(in_use(*table).size() == ListenerTable::kMaxListeners);

  // Freeing one makes exactly that one available again, reset.
  table->at_unlocked(77).inode = 4242;
  table->at_unlocked(77).offered = true;
  table->add_ref_unlocked(77);
  table->drop_ref_unlocked(77);
  CHECK_FALSE(table->at_unlocked(77).in_use);
  CHECK(table->allocate_unlocked() == 77);
  CHECK(table->at_unlocked(77).inode == 0);
  CHECK_FALSE(table->at_unlocked(77).offered);
  CHECK(table->allocate_unlocked() == 0);
}

TEST_CASE("listener_table: references free the record at zero",
          "[listener_table]") {
  auto table = make_table();
  uint32_t slot = table->allocate_unlocked();
  REQUIRE(slot == 1);
  table->at_unlocked(slot).inode = 99;
  table->add_ref_unlocked(slot);
  table->add_ref_unlocked(slot);
  table->add_ref_unlocked(slot);
  CHECK(table->at_unlocked(slot).refs == 3);
  table->drop_ref_unlocked(slot);
  table->drop_ref_unlocked(slot);
  CHECK(table->at_unlocked(slot).in_use);
  CHECK(table->at_unlocked(slot).refs == 1);
  CHECK(table->find_inode_unlocked(99) == slot);
  table->drop_ref_unlocked(slot);
  CHECK_FALSE(table->at_unlocked(slot).in_use);
  CHECK(table->at_unlocked(slot).refs == 0);
  CHECK(table->find_inode_unlocked(99) == 0);
  CHECK(in_use(*table).empty());
  // Out-of-range slots are ignored.
  table->add_ref_unlocked(0);
  table->drop_ref_unlocked(0);
  table->add_ref_unlocked(ListenerTable::kMaxListeners + 1);
  table->drop_ref_unlocked(ListenerTable::kMaxListeners + 1);
  CHECK(in_use(*table).empty());
}

TEST_CASE("listener_table: find by inode", "[listener_table]") {
  auto table = make_table();
  uint32_t a = table->allocate_unlocked();
  uint32_t b = table->allocate_unlocked();
  uint32_t c = table->allocate_unlocked();
  table->at_unlocked(a).inode = 1000;
  table->at_unlocked(b).inode = 2000;
  table->at_unlocked(c).inode = 3000;
  CHECK(table->find_inode_unlocked(1000) == a);
  CHECK(table->find_inode_unlocked(2000) == b);
  CHECK(table->find_inode_unlocked(3000) == c);
  CHECK(table->find_inode_unlocked(4000) == 0);
  CHECK(table->inode_unlocked(b) == 2000);
  CHECK(table->inode_unlocked(0) == 0);
  CHECK(table->inode_unlocked(ListenerTable::kMaxListeners + 1) == 0);
  table->add_ref_unlocked(b);
  table->drop_ref_unlocked(b);
  CHECK(table->find_inode_unlocked(2000) == 0);
  CHECK(table->find_inode_unlocked(3000) == c);
  CHECK(in_use(*table) == std::vector<uint32_t>{a, c});
}

TEST_CASE("listener_table: epoll registrations", "[listener_table]") {
  auto table = make_table();
  uint32_t one = table->allocate_unlocked();
  uint32_t two = table->allocate_unlocked();
  using Regs = std::set<std::pair<int, int>>;

  table->add_reg_unlocked(one, reg(10, 3, EPOLLIN, 111));
  table->add_reg_unlocked(one, reg(11, 3));
  table->add_reg_unlocked(one, reg(10, 4));  // a dup of the listener
  table->add_reg_unlocked(two, reg(10, 5));
  CHECK(regs_of(*table, one) == Regs{{10, 3}, {11, 3}, {10, 4}});
  CHECK(regs_of(*table, two) == Regs{{10, 5}});

  // Adding an existing (epfd, fd) pair updates it (EPOLL_CTL_MOD).
  table->add_reg_unlocked(one, reg(10, 3, EPOLLIN | EPOLLET, 222));
  CHECK(regs_of(*table, one) == Regs{{10, 3}, {11, 3}, {10, 4}});
  Listener& l = table->at_unlocked(one);
  for (int i = 0; i < l.nregs; ++i) {
    if (l.regs[i].epfd != 10 || l.regs[i].fd != 3) continue;
    CHECK(l.regs[i].events == (EPOLLIN | EPOLLET));
    CHECK(l.regs[i].data == 222);
  }

  // Removal takes exactly the pair, wherever it is.
  table->add_reg_unlocked(one, reg(12, 3));
  table->remove_reg_unlocked(one, 10, 4);  // a middle entry
  CHECK(regs_of(*table, one) == Regs{{10, 3}, {11, 3}, {12, 3}});
  table->remove_reg_unlocked(one, 12, 3);  // the last entry
  CHECK(regs_of(*table, one) == Regs{{10, 3}, {11, 3}});
  table->remove_reg_unlocked(one, 10, 99);  // not there
  table->remove_reg_unlocked(one, 99, 3);
  CHECK(regs_of(*table, one) == Regs{{10, 3}, {11, 3}});
  CHECK(regs_of(*table, two) == Regs{{10, 5}});

  // An epoll fd that went away leaves every record.
  table->forget_epoll_unlocked(10);
  CHECK(regs_of(*table, one) == Regs{{11, 3}});
  CHECK(regs_of(*table, two).empty());
  table->forget_epoll_unlocked(11);
  CHECK(regs_of(*table, one).empty());
  table->remove_reg_unlocked(one, 11, 3);  // removing from empty
  CHECK(regs_of(*table, one).empty());
}

TEST_CASE("listener_table: forget_epoll removes adjacent entries",
          "[listener_table]") {
  auto table = make_table();
  uint32_t slot = table->allocate_unlocked();
  // Swap-with-last removal must re-examine the entry moved into place.
  for (int fd : {3, 4, 5, 6}) table->add_reg_unlocked(slot, reg(20, fd));
  table->add_reg_unlocked(slot, reg(21, 7));
  for (int fd : {8, 9}) table->add_reg_unlocked(slot, reg(20, fd));
  table->forget_epoll_unlocked(20);
  CHECK(regs_of(*table, slot) == std::set<std::pair<int, int>>{{21, 7}});
}

TEST_CASE("listener_table: registrations are bounded", "[listener_table]") {
  auto table = make_table();
  uint32_t slot = table->allocate_unlocked();
  for (int fd = 0; fd < Listener::kMaxRegs + 4; ++fd)
    table->add_reg_unlocked(slot, reg(30, fd));
  CHECK(table->at_unlocked(slot).nregs == Listener::kMaxRegs);
  // Updating a known pair still works when full.
  table->add_reg_unlocked(slot, reg(30, 0, EPOLLOUT));
  CHECK(table->at_unlocked(slot).nregs == Listener::kMaxRegs);
  CHECK(table->at_unlocked(slot).regs[0].events == EPOLLOUT);
}

TEST_CASE("listener_table: freed records drop their registrations",
          "[listener_table]") {
  auto table = make_table();
  uint32_t slot = table->allocate_unlocked();
  table->add_ref_unlocked(slot);
  table->add_reg_unlocked(slot, reg(40, 3));
  table->drop_ref_unlocked(slot);
  uint32_t again = table->allocate_unlocked();
  REQUIRE(again == slot);
  CHECK(table->at_unlocked(again).nregs == 0);
}

TEST_CASE("listener_table: the lock serializes threads", "[listener_table]") {
  auto table = make_table();
  constexpr int kThreads = 4;
  constexpr int kIterations = 20'000;
  int counter = 0;  // deliberately not atomic: only the lock protects it
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        ListenerLock lock(*table);
        int seen = counter;
        table->at_unlocked(1).refs = seen;  // some work inside the lock
        counter = seen + 1;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(counter == kThreads * kIterations);
}
