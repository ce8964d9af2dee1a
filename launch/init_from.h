// `weft train --init-from RUN`: partial initialisation of a new run from another run's latest checkpoint (the
// infinity-former's fine-tuning of a trained transformer, spec infinite-memory.md B.9). Every parameter of the
// new model whose name and (logical) shape match one in the checkpoint takes the stored values; the others keep
// their initialisers. Step, optimizer moments, data cursor, RNG and model state start fresh.
#pragma once

#include <string>
#include <vector>

#include "runtime/param_store.h"

namespace weft::launch {

struct InitFromReport {
  std::vector<std::string> loaded;   // names taken from the checkpoint
  std::vector<std::string> fresh;    // the model's parameters the checkpoint lacks (initialised as usual)
  std::vector<std::string> skipped;  // in both, shapes differ: "name: (stored) in the checkpoint vs (model)"
  std::vector<std::string> unused;   // the checkpoint's parameters this model does not have
  std::string summary() const;       // one line: counts, the skipped ones named
};

// The checkpoint folder of --init-from RUN: RUN/checkpoints/latest, or RUN itself when it is a checkpoint
// folder. Errors (exit 2) name the flag when there is none.
std::string resolve_init_from(const std::string& run);

// Overwrites the parameters of `store` that match the checkpoint (verified against its manifest first) by
// name and logical shape; a sharded (expert-parallel) parameter reads its rows of the stored tensor.
InitFromReport load_matching_params(const std::string& checkpoint, ParamStore& store);

}  // namespace weft::launch
