// Signal handlers for a graceful stop.
#include "launch/signals.h"

#include <csignal>

namespace weft::launch {

namespace {
volatile std::sig_atomic_t g_stop = 0;  // the one process-wide flag a signal handler may touch
void on_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_signal);
}

bool stop_requested() { return g_stop != 0; }

}  // namespace weft::launch
