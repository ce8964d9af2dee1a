// Reading a training run back: metrics.jsonl losses and the tiny transformer's checkpointed weights.
#include "tests/harness/training_run.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "launch/checkpoint.h"
#include "runtime/checkpoint/h5.h"
#include "models/transformer/transformer.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {

std::map<int, double> logged_losses(const std::string& run_dir) {
  std::map<int, double> losses;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const size_t step = line.find("\"step\": "), loss = line.find("\"loss\": ");
    if (step != std::string::npos && loss != std::string::npos)
      losses[std::stoi(line.substr(step + 8))] = std::stod(line.substr(loss + 8));
  }
  return losses;
}

std::vector<double> tiny_transformer_weights(const std::string& checkpoint) {
  models::TransformerConfig c;  // kTinyTransformerFlags
  c.vocab_size = 257;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.max_seq_len = 16;
  models::Transformer model(c);
  ParamStore store;
  model.declare(store);
  store.finalize();
  launch::load_checkpoint(checkpoint, store, nullptr, nullptr);
  return to_host_doubles(store.values());
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

std::vector<char> checkpoint_state_bytes(const std::string& checkpoint) {
  ckpt::H5File f = ckpt::H5File::open_read(checkpoint + "/rank_00000.h5");
  std::vector<char> all;
  for (const std::string& name : f.dataset_names()) {
    if (name.rfind("params/", 0) != 0 && name.rfind("optim/", 0) != 0) continue;
    std::vector<char> b(static_cast<size_t>(f.shape_of(name).numel()) * 4);
    f.read(name, DType::f32, f.shape_of(name), b.data());
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

}  // namespace weft::test
