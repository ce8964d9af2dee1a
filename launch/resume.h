// Checkpoint recovery: which checkpoint of a run folder a command continues from. `--resume auto|latest` (and
// a run folder given to eval, sample, inspect) take the newest checkpoint whose files verify against its
// manifest, whether or not RUN/checkpoints/latest exists or points at it; every checkpoint skipped on the way is
// named with the reason. A run folder that holds checkpoints is never silently trained from step 0: that needs
// --restart, which moves the old checkpoints and metrics aside (nothing is deleted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/comm.h"

namespace weft::launch {

// The complete checkpoint folders RUN/checkpoints/step_XXXXXXXX (not the .tmp of an unfinished save), ascending.
struct CheckpointFolder {
  int64_t step = 0;
  std::string path;
};
std::vector<CheckpointFolder> checkpoint_folders(const std::string& run_dir);

struct CheckpointChoice {
  std::string path;                // "" when there is nothing to resume (a fresh run)
  std::vector<std::string> notes;  // what was skipped and why, for the user (rank 0 prints them)
};

// resume: "" (none), "latest" (a checkpoint must exist), "auto" (the newest valid one, or a fresh start when the
// folder holds none), or a checkpoint path. Throws (exit 2) naming every checkpoint that failed verification
// when none verifies: the caller must not start over on its own.
// flag: the flag to name in messages (--resume; --checkpoint for a run folder given to eval, sample, ...).
CheckpointChoice choose_checkpoint(const std::string& run_dir, const std::string& resume,
                                   const std::string& flag = "--resume");

// choose_checkpoint with its notes printed to stderr: for commands that read one checkpoint of a run folder.
std::string resolve_checkpoint(const std::string& run_dir, const std::string& resume,
                               const std::string& flag = "--resume");

// `weft train` on rank 0 (collective: the choice travels to every rank, so all continue from the same file and
// the folder is examined once). Also:
// - no --resume while RUN holds checkpoints: exit 2 naming them, unless restart (then they and the metrics move
//   to RUN/previous_<k>/);
// - resuming at step S: the checkpoint folders past S (an abandoned continuation, or ones that failed
//   verification) move to RUN/checkpoints/set_aside/ so that `latest`, retention and the next --resume auto
//   see only this run's history, and metrics.jsonl is cut back to the lines of steps <= S.
std::string prepare_resume(const std::string& run_dir, const std::string& resume, bool restart, par::Communicator& comm);

// Rewrites a metrics JSONL file keeping the lines whose "step" is <= step (lines without a step stay; a torn
// last line from a killed run goes). Returns the number of lines dropped. Atomic (temporary file + rename).
int64_t cut_metrics_back(const std::string& metrics_path, int64_t step);

}  // namespace weft::launch
