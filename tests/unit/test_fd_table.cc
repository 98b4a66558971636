// lib/fd_table: the lock-free per-fd words, mapped in 4096-fd chunks.
#include <catch2/catch.hpp>
#include <climits>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "fd_table.h"

using namespace huptime;

namespace {

// Every (fd, word) for_each reports, in visiting order.
std::vector<std::pair<int, uint32_t>> visit(const FdTable& table,
                                            unsigned first = 0,
                                            unsigned last = ~0u) {
  std::vector<std::pair<int, uint32_t>> seen;
  table.for_each([&](int fd, uint32_t word) { seen.emplace_back(fd, word); },
                 first, last);
  return seen;
}

constexpr int kLastFd = FdTable::kChunkSize * FdTable::kMaxChunks - 1;

}  // namespace

TEST_CASE("fd_table: entry encoding", "[fd_table]") {
  const FdKind kinds[] = {FdKind::kNone,    FdKind::kConn,    FdKind::kListener,
                          FdKind::kRetired, FdKind::kOffered, FdKind::kOurs,
                          FdKind::kEpoll};
  for (FdKind kind : kinds) {
    for (uint32_t slot : {0u, 1u, 127u, 0xffffffu}) {
      for (bool cloexec : {false, true}) {
        uint32_t e = make_entry(kind, slot, cloexec);
        INFO("kind " << static_cast<int>(kind) << " slot " << slot
                     << " cloexec " << cloexec);
        CHECK(entry_kind(e) == kind);
        CHECK(entry_slot(e) == slot);
        CHECK(entry_cloexec(e) == cloexec);
        CHECK(entry_protected(e) ==
              (kind == FdKind::kOurs || kind == FdKind::kOffered));
        // Only "nothing known" is the zero word that means untracked.
        CHECK((e == 0) == (kind == FdKind::kNone && slot == 0 && !cloexec));
      }
    }
  }
  CHECK(make_entry(FdKind::kConn, 0, true) == (1u | kViewCloexec));
  CHECK(make_entry(FdKind::kListener, 3, false) == (2u | (3u << 8)));
  CHECK(entry_kind(0) == FdKind::kNone);
  CHECK_FALSE(entry_protected(0));
  static_assert(entry_slot(make_entry(FdKind::kOurs, 0xffffff, true)) ==
                0xffffff);
}

TEST_CASE("fd_table: untouched fds read 0", "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  for (int fd : {0, 1, 2, 3, 4095, 4096, 100000, kLastFd, kLastFd + 1, -1,
                 -4096, INT_MIN, INT_MAX})
    CHECK(table->get(fd) == 0);
  CHECK(visit(*table).empty());
}

TEST_CASE("fd_table: exchange", "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  uint32_t a = make_entry(FdKind::kListener, 1, false);
  uint32_t b = make_entry(FdKind::kConn, 0, true);
  CHECK(table->exchange(5, a) == 0);
  CHECK(table->get(5) == a);
  CHECK(table->get(4) == 0);
  CHECK(table->get(6) == 0);
  CHECK(table->exchange(5, b) == a);
  CHECK(table->get(5) == b);
  CHECK(table->exchange(5, 0) == b);
  CHECK(table->get(5) == 0);
  // Clearing an fd whose chunk was never mapped maps nothing.
  CHECK(table->exchange(200000, 0) == 0);
  CHECK(visit(*table).empty());
  // Out of range: silently ignored.
  for (int fd : {-1, kLastFd + 1, INT_MAX}) {
    CHECK(table->exchange(fd, a) == 0);
    CHECK(table->get(fd) == 0);
  }
  CHECK(table->exchange(kLastFd, a) == 0);
  CHECK(table->get(kLastFd) == a);
}

TEST_CASE("fd_table: compare_exchange", "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  uint32_t a = make_entry(FdKind::kOffered, 2, false);
  uint32_t b = make_entry(FdKind::kListener, 2, false);
  CHECK_FALSE(table->compare_exchange(7, a, b));  // holds 0, not a
  CHECK(table->get(7) == 0);
  CHECK(table->compare_exchange(7, 0, a));
  CHECK(table->get(7) == a);
  CHECK_FALSE(table->compare_exchange(7, 0, b));
  CHECK(table->get(7) == a);
  CHECK(table->compare_exchange(7, a, b));
  CHECK(table->get(7) == b);
  CHECK(table->compare_exchange(7, b, 0));
  CHECK(table->get(7) == 0);
  // Unmapped chunk: 0 → 0 holds, anything → 0 does not.
  CHECK(table->compare_exchange(300000, 0, 0));
  CHECK_FALSE(table->compare_exchange(300000, a, 0));
  CHECK(visit(*table).empty());
  // Out of range.
  CHECK_FALSE(table->compare_exchange(-1, 0, a));
  CHECK_FALSE(table->compare_exchange(kLastFd + 1, 0, a));
  CHECK(table->compare_exchange(-1, 0, 0));
}

TEST_CASE("fd_table: second and later chunks", "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  std::map<int, uint32_t> set = {
      {4095, make_entry(FdKind::kConn, 0, false)},
      {4096, make_entry(FdKind::kListener, 4, true)},
      {8191, make_entry(FdKind::kOurs, 9, false)},
      {100000, make_entry(FdKind::kEpoll, 0, false)},
      {kLastFd, make_entry(FdKind::kRetired, 1, false)},
  };
  for (auto [fd, word] : set) CHECK(table->exchange(fd, word) == 0);
  for (auto [fd, word] : set) {
    CHECK(table->get(fd) == word);
    CHECK(table->get(fd - 1) == (set.count(fd - 1) ? set[fd - 1] : 0));
  }
  CHECK(table->get(100000 - 4096) == 0);  // same offset, other chunk
  CHECK(table->get(100000 + 4096) == 0);
  auto seen = visit(*table);
  CHECK(seen == std::vector<std::pair<int, uint32_t>>(set.begin(), set.end()));
}

TEST_CASE("fd_table: for_each visits exactly the set fds in range",
          "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  const int fds[] = {0, 3, 4, 10, 4096, 5000, 100000};
  for (int fd : fds)
    table->exchange(
        fd, make_entry(FdKind::kConn, static_cast<uint32_t>(fd), false));
  table->exchange(10, 0);  // cleared again: not visited
  auto fds_of = [](const std::vector<std::pair<int, uint32_t>>& seen) {
    std::vector<int> out;
    for (auto [fd, word] : seen) {
      CHECK(entry_slot(word) == static_cast<uint32_t>(fd));
      out.push_back(fd);
    }
    return out;
  };
  using V = std::vector<int>;
  CHECK(fds_of(visit(*table)) == V{0, 3, 4, 4096, 5000, 100000});
  CHECK(fds_of(visit(*table, 3)) == V{3, 4, 4096, 5000, 100000});
  CHECK(fds_of(visit(*table, 4, 4096)) == V{4, 4096});
  CHECK(fds_of(visit(*table, 5, 4095)).empty());
  CHECK(fds_of(visit(*table, 4097, 99999)) == V{5000});
  CHECK(fds_of(visit(*table, 100000, 100000)) == V{100000});
  CHECK(fds_of(visit(*table, 100001)).empty());
  CHECK(fds_of(visit(*table, 5, 4)).empty());  // empty range
}

TEST_CASE("fd_table: concurrent writers on disjoint fds", "[fd_table]") {
  auto table = std::make_unique<FdTable>();
  constexpr int kThreads = 8;
  constexpr int kIterations = 100'000;
  constexpr int kFdsPerThread = 16;
  // Thread t owns fds t, t+kThreads, ...: neighbours in the same words'
  // cache lines, and every thread races to map the same fresh chunks.
  auto fd_of = [](int t, int i) {
    return t + kThreads * i + (i % 4) * FdTable::kChunkSize * 3;
  };
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint32_t previous[kFdsPerThread] = {};
      for (int n = 0; n < kIterations; ++n) {
        int i = n % kFdsPerThread;
        // Never zero: kConn is a nonzero kind.
        uint32_t word =
            make_entry(FdKind::kConn, static_cast<uint32_t>(n), (n & 1) != 0);
        if (table->exchange(fd_of(t, i), word) != previous[i]) ++failures[t];
        previous[i] = word;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) CHECK(failures[t] == 0);
  int count = 0;
  std::vector<int> per_thread(kThreads, 0);
  table->for_each([&](int fd, uint32_t word) {
    ++count;
    CHECK(entry_kind(word) == FdKind::kConn);
    ++per_thread[(fd % FdTable::kChunkSize) % kThreads];
  });
  CHECK(count == kThreads * kFdsPerThread);
  for (int t = 0; t < kThreads; ++t) CHECK(per_thread[t] == kFdsPerThread);
}
