// The collective watchdog in one process (label unit): an armed collective past its deadline ends the
// process with exit 5 and the line naming rank, number, collective and size; a disarmed one, a nested
// arm or a timeout of 0 do not; a probe that reports an unfinished collective (NCCL's stream) and the
// abort hooks run on expiry; the TCP peers it names (connections whose data is being retransmitted, read
// from /proc/net/tcp). And the pure rules for the default --threads of a rank.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "parallel/launcher.h"
#include "parallel/tcp_peers.h"
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

// A /proc/net/tcp address as the kernel prints it: the raw 32-bit words of the address in host order.
std::string proc_v4(const char* ip, unsigned port) {
  in_addr a{};
  inet_pton(AF_INET, ip, &a);
  char s[32];
  std::snprintf(s, sizeof s, "%08X:%04X", a.s_addr, port);
  return s;
}
std::string proc_v6(const char* ip, unsigned port) {
  in6_addr a{};
  inet_pton(AF_INET6, ip, &a);
  std::string s;
  for (int w = 0; w < 4; ++w) {
    uint32_t word;
    std::memcpy(&word, a.s6_addr + 4 * w, 4);
    char h[16];
    std::snprintf(h, sizeof h, "%08X", word);
    s += h;
  }
  char p[8];
  std::snprintf(p, sizeof p, ":%04X", port);
  return s + p;
}
// One /proc/net/tcp line: send queue TX (hex), timer TR ("01" retransmission, "04" zero-window probe),
// RETR retransmission timeouts, socket INODE.
std::string tcp_line(const std::string& remote, const char* tx, const char* tr, int retr, int inode) {
  return "   3: " + proc_v4("10.77.0.1", 1024) + " " + remote + " 01 " + tx + ":00000000 " + tr + ":000000C8 " +
         std::to_string(retr) + "        0        0 " + std::to_string(inode) + " 2 0000000000000000 20 4 30 10 -1\n";
}

TEST(TcpPeers, NamesPeersWhoseDataIsRetransmittedAndNoOthers) {
  const std::string table =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
      tcp_line(proc_v4("10.77.0.2", 41234), "00000030", "01", 4, 101) +  // stalled: named
      tcp_line(proc_v4("10.77.0.3", 41235), "00000000", "00", 0, 102) +  // idle
      tcp_line(proc_v4("10.77.0.4", 41236), "00010000", "04", 0, 103) +  // alive, not reading (zero window)
      tcp_line(proc_v4("10.77.0.5", 41237), "00000030", "01", 2, 999) +  // another process's socket
      tcp_line(proc_v4("10.77.0.6", 41238), "00000010", "00", 1, 104);   // timed out, timer between probes
  const auto peers = weft::par::parse_stalled_tcp_peers(table, false, {101, 102, 103, 104});
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].address, "10.77.0.2:41234");
  EXPECT_EQ(peers[0].retransmits, 4);
  EXPECT_EQ(peers[0].unacked_bytes, 48u);
  EXPECT_EQ(peers[1].address, "10.77.0.6:41238");

  std::string v6 = "   0: " + proc_v6("fd00::1", 1024) + " " + proc_v6("fd00::2", 5000) +
                   " 01 00000008:00000000 01:00000100 00000003     0        0 7 1 0\n";
  const auto peers6 = weft::par::parse_stalled_tcp_peers(v6, true, {7});
  ASSERT_EQ(peers6.size(), 1u);
  EXPECT_EQ(peers6[0].address, "[fd00::2]:5000");

  EXPECT_EQ(weft::par::stalled_peers_message(2, peers),
            "rank 2: no TCP acknowledgment from 10.77.0.2:41234 (48 bytes unacknowledged, 4 retransmissions), "
            "10.77.0.6:41238 (16 bytes unacknowledged, 1 retransmission): unreachable peer (link down?)");
  EXPECT_EQ(weft::par::stalled_peers_message(2, {}), "");
  // This test process has no stalled connection.
  EXPECT_TRUE(weft::par::stalled_tcp_peers().empty());
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
