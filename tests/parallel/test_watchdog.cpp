// The collective watchdog in one process (label unit): an armed collective past its deadline ends the
// process with exit 5 and the line naming rank, number, collective and size; a disarmed one, a nested
// arm or a timeout of 0 do not; a probe that reports an unfinished collective (NCCL's stream) and the
// abort hooks run on expiry. And the pure rules for the default --threads of a rank.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "parallel/launcher.h"
#include "parallel/watchdog.h"

namespace {

using weft::par::CollectiveCall;
using weft::par::Watchdog;
using namespace std::chrono_literals;

TEST(Watchdog, MessageNamesRankCollectiveSizeAndTimeout) {
  CollectiveCall call{57, "all_reduce", 8, "mpi, 2 ranks", {}};
  const std::string m = weft::par::timeout_message(3, call, 30);
  EXPECT_EQ(m.rfind("rank 3: collective #57 (all_reduce, 8 bytes, mpi, 2 ranks) did not complete within 30 s", 0), 0u)
      << m;
  EXPECT_NE(m.find("aborting the job (exit 5"), std::string::npos) << m;
}

TEST(Watchdog, ExpiredCollectiveEndsTheProcessWithExit5) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog w(0.2);
        w.set_rank(1);
        auto armed = w.arm(7, "barrier", 0, "mpi, 2 ranks");
        std::this_thread::sleep_for(10s);  // a collective that never completes
      },
      ::testing::ExitedWithCode(weft::par::kExitCollectiveTimeout),
      "rank 1: collective #7 \\(barrier, 0 bytes, mpi, 2 ranks\\) did not complete within 0.2 s");
}

TEST(Watchdog, AbortHooksRunBeforeTheExit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog w(0.1);
        w.add_abort_hook([] { std::fprintf(stderr, "communicator aborted\n"); });
        auto armed = w.arm(0, "broadcast", 128, "mpi, 4 ranks");
        std::this_thread::sleep_for(10s);
      },
      ::testing::ExitedWithCode(5), "did not complete within 0.1 s(.|\n)*communicator aborted");
}

TEST(Watchdog, ProbeReportsAnUnfinishedAsynchronousCollective) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog w(0.2);
        const auto enqueued = weft::par::WatchClock::now();
        w.add_probe([enqueued](weft::par::WatchClock::time_point started_before) -> std::optional<CollectiveCall> {
          if (enqueued >= started_before) return std::nullopt;  // not overdue yet
          return CollectiveCall{12, "all_reduce", 4096, "nccl, 8 ranks", enqueued};
        });
        std::this_thread::sleep_for(10s);
      },
      ::testing::ExitedWithCode(5), "collective #12 \\(all_reduce, 4096 bytes, nccl, 8 ranks\\) did not complete");
}

TEST(Watchdog, CompletedNestedAndUnlimitedCollectivesDoNotFire) {
  Watchdog w(0.3);
  for (int i = 0; i < 1000; ++i) {  // many short collectives, each well within the deadline
    auto outer = w.arm(i, "all_reduce", 8, "mpi, 2 ranks");
    auto inner = w.arm(0, "barrier", 0, "mpi, 2 ranks");  // nested: keeps the outer deadline
  }
  std::this_thread::sleep_for(600ms);  // disarmed: nothing fires after the deadline
  w.set_timeout(0);
  {
    auto armed = w.arm(1000, "barrier", 0, "mpi, 2 ranks");
    std::this_thread::sleep_for(500ms);  // past 0.3 s, but the limit is off
  }
  SUCCEED();  // still alive
}

TEST(Watchdog, RearmingRestartsTheDeadline) {
  Watchdog w(0.4);
  for (int i = 0; i < 6; ++i) {  // 6 x 0.2 s armed in all, each collective under the deadline
    auto armed = w.arm(i, "all_reduce", 8, "mpi, 2 ranks");
    std::this_thread::sleep_for(200ms);
  }
  SUCCEED();
}

TEST(Threads, DefaultSharesTheCoresOfOverlappingMasks) {
  using weft::par::default_threads;
  EXPECT_EQ(default_threads(16, 1), 16);  // one rank: every core it sees
  EXPECT_EQ(default_threads(16, 2), 8);   // two unbound ranks share the node
  EXPECT_EQ(default_threads(2, 2), 1);
  EXPECT_EQ(default_threads(2, 3), 1);    // more ranks than cores: at least 1
  EXPECT_EQ(default_threads(4, 1), 4);    // bound by the launcher to 4 cores of its own: those
  EXPECT_EQ(default_threads(8, 2), 4);    // two ranks bound to the same socket share it
}

TEST(Threads, RanksSharingCoresAreThoseWhoseMasksOverlap) {
  using weft::par::ranks_sharing_cores;
  const uint64_t unbound[] = {0xFF, 0xFF, 0xFF};  // 3 ranks, 1 word each, all on cores 0-7
  EXPECT_EQ(ranks_sharing_cores(unbound, 3, 1, 0), 3);
  EXPECT_EQ(ranks_sharing_cores(unbound, 3, 1, 2), 3);
  const uint64_t bound[] = {0x0F, 0xF0, 0x0F, 0xF0};  // 2 sockets of 4 cores, 2 ranks on each
  EXPECT_EQ(ranks_sharing_cores(bound, 4, 1, 0), 2);
  EXPECT_EQ(ranks_sharing_cores(bound, 4, 1, 1), 2);
  const uint64_t per_core[] = {0x1, 0x0, 0x0, 0x1};  // 2 words per rank: core 0, core 64
  EXPECT_EQ(ranks_sharing_cores(per_core, 2, 2, 0), 1);
  EXPECT_EQ(ranks_sharing_cores(per_core, 2, 2, 1), 1);
  const uint64_t empty[] = {0x0, 0x3};  // a rank with no mask still counts itself
  EXPECT_EQ(ranks_sharing_cores(empty, 2, 1, 0), 1);
}

TEST(Threads, OversubscriptionIsThreadsTimesSharingRanksOverTheCores) {
  using weft::par::oversubscribes;
  EXPECT_FALSE(oversubscribes(1, 2, 2));
  EXPECT_TRUE(oversubscribes(2, 2, 2));  // 2 ranks x 2 threads on 2 cores
  EXPECT_FALSE(oversubscribes(8, 16, 2));
  EXPECT_TRUE(oversubscribes(9, 16, 2));
  EXPECT_FALSE(oversubscribes(4, 4, 1));  // bound to 4 cores of its own: 4 threads fit
  EXPECT_TRUE(oversubscribes(5, 4, 1));
}

}  // namespace
