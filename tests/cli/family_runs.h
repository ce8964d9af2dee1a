// Shared by tests/cli/test_families_cli.cpp and test_families_mpi.cpp: the (family, tiny configuration) cases
// of the registry (ModelFamily::test_configs), their `weft train` flags, metrics.jsonl read back field by
// field, and a run's final weights read through launch/checkpoint.h.
#pragma once

#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "launch/checkpoint.h"
#include "models/registry.h"
#include "tests/harness/gradcheck.h"
#include "tests/harness/process.h"

namespace weft::test {

inline constexpr int64_t kCliSeqLen = 16;
inline constexpr int64_t kCliVocab = 257;  // the byte tokenizer of `weft prepare --builtin stories`

struct FamilyCase {
  std::string family;
  models::TestConfig config;
};

// CTest names carry the parameter's printout: keep it short and stable.
inline void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.family << "/" << c.config.name; }

inline std::vector<FamilyCase> family_cases() {
  std::vector<FamilyCase> cases;
  for (const models::ModelFamily& f : models::model_families())
    for (const models::TestConfig& c : models::family_test_configs(f)) cases.push_back({f.name, c});
  return cases;
}

inline std::string family_case_name(const FamilyCase& c) {
  std::string s = c.family + "_" + c.config.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// "--model=NAME --seq-len=16 --key=value ..." (the = form, so booleans with implicit values read right).
inline std::string family_args(const FamilyCase& c) {
  std::string s = " --model=" + c.family + " --seq-len=" + std::to_string(kCliSeqLen);
  for (const auto& [key, value] : c.config.flags) s += " --" + key + "=" + value;
  return s + " ";
}

// The model a run of this case trains (vocabulary of the byte tokenizer).
inline std::unique_ptr<models::Model> family_model(const FamilyCase& c) {
  std::map<std::string, std::string> flags = c.config.flags;
  flags["vocab-size"] = std::to_string(kCliVocab);
  flags["seq-len"] = std::to_string(kCliSeqLen);
  return models::build_model(c.family, flags);
}

// The names of the auxiliary terms the model reports (one tiny evaluation-mode loss in process).
inline std::vector<std::string> family_aux_names(const FamilyCase& c) {
  std::unique_ptr<models::Model> model = family_model(c);
  ParamStore store;
  model->declare(store);
  store.finalize();
  store.initialize(1);
  OwnedTensor ids = random_ids({1, 4}, 1, kCliVocab), targets = random_ids({1, 4}, 2, kCliVocab);
  Exec ex = cpu_exec(1);
  Arena arena;
  Graph g(ex, arena);
  g.grad_enabled = false;
  Rng rng(1, 0);
  models::LossTerms lt = model->loss_terms(g, store, models::Batch{ids, targets, 0.0f}, rng, false);
  std::vector<std::string> names;
  for (const models::AuxTerm& a : lt.aux) names.push_back(a.name);
  g.clear();
  return names;
}

// metrics.jsonl of a run: step -> field -> value text as written (training lines, those with a "loss").
using StepFields = std::map<int, std::map<std::string, std::string>>;
inline StepFields read_metrics(const std::string& run) {
  StepFields steps;
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> fields;  // flat objects of numbers and strings
    size_t p = 0;
    while ((p = line.find('"', p)) != std::string::npos) {
      const size_t end = line.find('"', p + 1);
      if (end == std::string::npos) break;
      const std::string key = line.substr(p + 1, end - p - 1);
      size_t v = line.find(':', end);
      if (v == std::string::npos) break;
      v = line.find_first_not_of(' ', v + 1);
      size_t stop = line[v] == '"' ? line.find('"', v + 1) + 1 : line.find_first_of(",}", v);
      fields[key] = line.substr(v, stop - v);
      p = stop;
    }
    if (fields.count("step") && fields.count("loss")) steps[std::stoi(fields["step"])] = fields;
  }
  return steps;
}

// Fields of a training line that depend on the clock.
inline bool timing_field(const std::string& key) { return key == "tokens_per_s" || key == "elapsed_s"; }

// The parameters of a run's latest checkpoint, in the store's flat order.
inline std::vector<double> final_weights(const FamilyCase& c, const std::string& run) {
  std::unique_ptr<models::Model> model = family_model(c);
  ParamStore store;
  model->declare(store);
  store.finalize();
  launch::load_checkpoint(launch::resolve_checkpoint(run, "latest"), store, nullptr, nullptr);
  return to_host_doubles(store.values());
}

// The lines of a checkpoint's manifest.txt that name datasets under `group`/ ("state", "params").
inline int manifest_entries(const std::string& checkpoint, const std::string& group) {
  std::ifstream in(checkpoint + "/manifest.txt");
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (line.find(" " + group + "/") != std::string::npos) ++n;
  return n;
}

}  // namespace weft::test
