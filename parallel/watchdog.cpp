// The collective watchdog's thread: it waits on a condition variable until the armed deadline (or the
// next probe time) and never polls faster than timeout / 10.
#include "parallel/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "parallel/tcp_peers.h"

namespace weft::par {

std::string CollectiveCall::describe() const {
  std::string s = "#";  // appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "a" + std::string
  s += std::to_string(seq);
  s += " (" + name + ", ";
  s += std::to_string(bytes);
  s += " bytes, " + comm + ")";
  return s;
}

std::string timeout_message(int rank, const CollectiveCall& call, double timeout_s) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", timeout_s);
  std::string m = "rank ";
  m += std::to_string(rank);
  m += ": collective " + call.describe() + " did not complete within ";
  m += seconds;
  m += " s (--collective-timeout): another rank is hung or dead (every rank that times out prints such a line "
       "with its own number; a rank that prints none is stopped or dead) - aborting the job (exit ";
  m += std::to_string(kExitCollectiveTimeout);
  m += "; continue with --resume auto)";
  return m;
}

Watchdog::Watchdog(double timeout_s) : timeout_s_(timeout_s) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::set_timeout(double seconds) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    timeout_s_ = std::max(0.0, seconds);
  }
  cv_.notify_all();
}

double Watchdog::timeout() const {
  std::lock_guard<std::mutex> lk(mu_);
  return timeout_s_;
}

void Watchdog::set_rank(int rank) {
  std::lock_guard<std::mutex> lk(mu_);
  rank_ = rank;
}

Watchdog::Armed Watchdog::arm(uint64_t seq, const char* name, int64_t bytes, const std::string& comm) {
  std::lock_guard<std::mutex> lk(mu_);
  if (timeout_s_ <= 0) return Armed(nullptr);
  if (++depth_ == 1) {
    armed_ = CollectiveCall{seq, name, bytes, comm, WatchClock::now()};
    start_thread_locked();
    cv_.notify_one();  // the thread may be waiting without a deadline
  }
  return Armed(this);
}

void Watchdog::disarm() {
  std::lock_guard<std::mutex> lk(mu_);
  if (depth_ > 0) --depth_;  // no wake-up: the thread finds the deadline gone when it next wakes
}

int Watchdog::add_probe(Probe probe) {
  std::lock_guard<std::mutex> lk(mu_);
  probes_.emplace_back(next_id_, std::move(probe));
  start_thread_locked();
  cv_.notify_one();
  return next_id_++;
}

void Watchdog::remove_probe(int id) {
  std::lock_guard<std::mutex> lk(mu_);  // waits for a probe call in progress
  std::erase_if(probes_, [id](const auto& p) { return p.first == id; });
}

int Watchdog::add_abort_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lk(mu_);
  abort_hooks_.emplace_back(next_id_, std::move(hook));
  return next_id_++;
}

void Watchdog::remove_abort_hook(int id) {
  std::lock_guard<std::mutex> lk(mu_);
  std::erase_if(abort_hooks_, [id](const auto& h) { return h.first == id; });
}

void Watchdog::start_thread_locked() {
  if (!thread_.joinable() && !stop_) thread_ = std::thread([this] { loop(); });
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    if (timeout_s_ <= 0 || (depth_ == 0 && probes_.empty())) {
      cv_.wait(lk);
      continue;
    }
    const auto timeout = std::chrono::duration_cast<WatchClock::duration>(std::chrono::duration<double>(timeout_s_));
    const auto now = WatchClock::now();
    if (depth_ > 0 && now - armed_.since >= timeout) expire(armed_, timeout_s_);
    for (auto& [id, probe] : probes_)
      if (auto overdue = probe(now - timeout)) expire(*overdue, timeout_s_);
    auto wake = WatchClock::time_point::max();
    if (!probes_.empty()) {
      const double period = std::clamp(timeout_s_ / 10, 0.05, 10.0);
      wake = now + std::chrono::duration_cast<WatchClock::duration>(std::chrono::duration<double>(period));
    }
    if (depth_ > 0) wake = std::min(wake, armed_.since + timeout);
    cv_.wait_until(lk, wake);
  }
}

void Watchdog::expire(const CollectiveCall& call, double timeout_s) {
  // The main thread is blocked in the collective (or on the stream behind it): nothing else prints.
  std::string line = timeout_message(rank_, call, timeout_s) + "\n";
  // Over TCP, the peers that stopped acknowledging (a node whose link went down); none over shared memory.
  if (const std::string peers = stalled_peers_message(rank_, stalled_tcp_peers()); !peers.empty()) line += peers + "\n";
  std::fflush(stdout);
  ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  (void)written;
  for (auto& [id, hook] : abort_hooks_) hook();
  ::_exit(kExitCollectiveTimeout);
}

}  // namespace weft::par
