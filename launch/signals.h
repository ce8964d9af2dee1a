// Graceful stop: SIGTERM or SIGUSR1 (Slurm's --signal=B:USR1@T, a preemption notice) on any rank sets a
// flag; the trainer all-reduces it at the end of every step so all ranks agree on the same step, then
// they save a checkpoint and exit with kExitStopped. A second signal is handled the same way (idempotent).
#pragma once

namespace weft::launch {

constexpr int kExitStopped = 3;  // "stopped by a signal after saving a checkpoint; resume with --resume auto"

void install_stop_handlers();
bool stop_requested();

}  // namespace weft::launch
