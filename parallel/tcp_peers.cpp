// Stalled TCP peers from /proc: socket inodes from /proc/self/fd, connections from /proc/self/net/tcp{,6}
// ("sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ..."): a connection whose send
// queue is not empty and whose retransmission timer runs (tr 1) or has fired (retrnsmt > 0) waits for a
// peer that does not acknowledge. Addresses are printed by the kernel as the raw 32-bit words in host order.
#include "parallel/tcp_peers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weft::par {
namespace {

// "0100007F:0CEA" (ipv6: 32 hex digits) -> "127.0.0.1:3306" ("[::1]:3306"); "" when malformed.
std::string format_address(const std::string& hex, bool ipv6) {
  const size_t colon = hex.find(':');
  const size_t digits = ipv6 ? 32 : 8;
  if (colon != digits || hex.size() <= colon + 1) return "";
  char text[INET6_ADDRSTRLEN] = {};
  try {
    const unsigned port = static_cast<unsigned>(std::stoul(hex.substr(colon + 1), nullptr, 16));
    if (ipv6) {
      in6_addr a{};
      for (int w = 0; w < 4; ++w) {
        const uint32_t word = static_cast<uint32_t>(std::stoul(hex.substr(8 * w, 8), nullptr, 16));
        std::memcpy(a.s6_addr + 4 * w, &word, 4);
      }
      if (!inet_ntop(AF_INET6, &a, text, sizeof text)) return "";
      std::string address = "[";  // appended piece by piece: GCC 12 warns (-Wrestrict) on "a" + std::string
      address += text;
      address += "]:";
      return address + std::to_string(port);
    }
    in_addr a{};
    a.s_addr = static_cast<uint32_t>(std::stoul(hex.substr(0, 8), nullptr, 16));
    if (!inet_ntop(AF_INET, &a, text, sizeof text)) return "";
    return std::string(text) + ":" + std::to_string(port);
  } catch (const std::exception&) {
    return "";
  }
}

std::set<uint64_t> own_socket_inodes() {
  std::set<uint64_t> inodes;
  DIR* fds = ::opendir("/proc/self/fd");
  if (!fds) return inodes;
  while (const dirent* e = ::readdir(fds)) {
    char target[64] = {};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    unsigned long long inode = 0;
    if (n > 0 && std::sscanf(target, "socket:[%llu]", &inode) == 1) inodes.insert(inode);
  }
  ::closedir(fds);
  return inodes;
}

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<StalledTcpPeer> parse_stalled_tcp_peers(const std::string& table, bool ipv6, const std::set<uint64_t>& inodes) {
  std::vector<StalledTcpPeer> peers;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues, timer;
    unsigned long retransmits = 0, uid = 0, timeout = 0;
    unsigned long long inode = 0;
    if (!(f >> slot >> local >> remote >> state >> queues >> timer >> std::hex >> retransmits >> std::dec >> uid >>
          timeout >> inode))
      continue;  // the header line
    if (!inodes.count(inode) || queues.size() < 3 || timer.size() < 2) continue;
    unsigned long long tx_queue = 0;
    if (std::sscanf(queues.c_str(), "%llx:", &tx_queue) != 1 || tx_queue == 0) continue;
    const bool retransmitting = timer.rfind("01:", 0) == 0;
    if (!retransmitting && retransmits == 0) continue;
    std::string address = format_address(remote, ipv6);
    if (address.empty()) continue;
    peers.push_back({std::move(address), static_cast<int>(retransmits), tx_queue});
  }
  return peers;
}

std::vector<StalledTcpPeer> stalled_tcp_peers() {
  const std::set<uint64_t> inodes = own_socket_inodes();
  if (inodes.empty()) return {};
  std::vector<StalledTcpPeer> peers = parse_stalled_tcp_peers(read_file("/proc/self/net/tcp"), false, inodes);
  std::vector<StalledTcpPeer> v6 = parse_stalled_tcp_peers(read_file("/proc/self/net/tcp6"), true, inodes);
  peers.insert(peers.end(), v6.begin(), v6.end());
  std::stable_sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  peers.erase(std::unique(peers.begin(), peers.end(), [](const auto& a, const auto& b) { return a.address == b.address; }),
              peers.end());
  return peers;
}

std::string stalled_peers_message(int rank, const std::vector<StalledTcpPeer>& peers) {
  if (peers.empty()) return "";
  std::string m = "rank ";
  m += std::to_string(rank);
  m += ": no TCP acknowledgment from ";
  for (size_t i = 0; i < peers.size(); ++i) {
    if (i) m += ", ";
    m += peers[i].address + " (";
    m += std::to_string(peers[i].unacked_bytes);
    m += " bytes unacknowledged, ";
    m += std::to_string(peers[i].retransmits);
    m += peers[i].retransmits == 1 ? " retransmission)" : " retransmissions)";
  }
  m += ": unreachable peer (link down?)";
  return m;
}

}  // namespace weft::par
