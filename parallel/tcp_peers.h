// Which TCP peer stopped answering: the remote ends of this process's TCP connections that hold data the
// peer has not acknowledged and that the kernel is retransmitting (Linux /proc/net/tcp and tcp6). When a
// collective over TCP (Open MPI's btl/tcp between nodes) times out because a node's link went down, these
// are the addresses of that node's ranks; the collective watchdog prints them. Empty where the process has
// no such connection (shared memory, NCCL, a peer that is alive but stopped) or no /proc.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace weft::par {

struct StalledTcpPeer {
  std::string address;  // "10.77.0.2:41234", "[fd00::2]:41234"
  int retransmits = 0;  // retransmission timeouts so far without an acknowledgment
  uint64_t unacked_bytes = 0;
};

// The stalled peers among the lines of a /proc/net/tcp (ipv6: tcp6) table, restricted to the sockets whose
// inode is in `inodes` (this process's); pure, for tests.
std::vector<StalledTcpPeer> parse_stalled_tcp_peers(const std::string& table, bool ipv6, const std::set<uint64_t>& inodes);

// The stalled peers of this process (its sockets from /proc/self/fd), IPv4 first; sorted, no repeats.
std::vector<StalledTcpPeer> stalled_tcp_peers();

// "rank R: no TCP acknowledgment from A (n retransmissions), B (...): unreachable peers (link down?)";
// "" for no peers.
std::string stalled_peers_message(int rank, const std::vector<StalledTcpPeer>& peers);

}  // namespace weft::par
