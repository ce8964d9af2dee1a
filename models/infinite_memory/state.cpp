// The infinity-former's state across steps (models/infinite_memory/infinite.h): per global stream, float64
// tensors "counters" (2: tokens since the last reset, updates so far) and, per memory layer l that has them,
// "ltm.<l>.mem" (L, C), "ltm.<l>.coef" (N, C), "ltm.<l>.mu" and "ltm.<l>.sigma" (H q), and with --integration xl
// "ltm.<l>.stm" (S, C) in every layer (the STM's mems). Absent means none.
#include <string>

#include "models/infinite_memory/infinite.h"
#include "runtime/check.h"

namespace weft::models {

namespace {
OwnedTensor f64_tensor(const std::vector<double>& v, Shape shape) {
  OwnedTensor t(DType::f64, shape);
  std::copy(v.begin(), v.end(), t.ptr<double>());
  return t;
}
}  // namespace

std::vector<StateTensor> InfiniteModel::save_state() const {
  std::vector<StateTensor> out;
  const int64_t C = cfg_.d_model;
  for (const auto& [stream, s] : memory_) {
    if (stream >= kEvalStreamBase) continue;  // evaluation streams (stream_logits) are never saved
    out.push_back({stream, "counters", f64_tensor({static_cast<double>(s.tokens), static_cast<double>(s.updates)}, {2})});
    for (size_t l = 0; l < s.layers.size(); ++l) {
      const LayerMemory& m = s.layers[l];
      const std::string p = "ltm." + std::to_string(l) + ".";
      if (!m.mem.empty())
        out.push_back({stream, p + "mem", f64_tensor(m.mem, {static_cast<int64_t>(m.mem.size()) / C, C})});
      if (!m.stm.empty())
        out.push_back({stream, p + "stm", f64_tensor(m.stm, {static_cast<int64_t>(m.stm.size()) / C, C})});
      if (!m.coef.empty()) out.push_back({stream, p + "coef", f64_tensor(m.coef, {cfg_.basis, C})});
      if (!m.mu.empty()) {
        out.push_back({stream, p + "mu", f64_tensor(m.mu, {static_cast<int64_t>(m.mu.size())})});
        out.push_back({stream, p + "sigma", f64_tensor(m.sigma, {static_cast<int64_t>(m.sigma.size())})});
      }
    }
  }
  return out;
}

void InfiniteModel::load_state(const std::vector<StateTensor>& state) {
  memory_.clear();
  const int64_t C = cfg_.d_model;
  for (const StateTensor& s : state) {
    const Tensor& t = s.value.tensor();
    auto bad = [&](const char* why) {
      WEFT_FAIL("[infinite] state tensor '", s.name, "' of stream ", s.stream, ": ", t.str(), " ", why,
                " (a checkpoint of another configuration?)");
    };
    if (s.stream < 0 || t.dtype != DType::f64) bad("is not a stream's f64 tensor");
    StreamMemory& m = memory_[s.stream];
    m.layers.resize(static_cast<size_t>(cfg_.n_layers));
    const double* v = s.value.ptr<double>();
    const int64_t n = s.value.numel();
    if (s.name == "counters") {
      if (n != 2) bad("should hold 2 counters");
      m.tokens = static_cast<int64_t>(v[0]);
      m.updates = static_cast<int64_t>(v[1]);
      continue;
    }
    const size_t dot = s.name.find('.', 4);
    if (s.name.rfind("ltm.", 0) != 0 || dot == std::string::npos) bad("is unknown");
    int64_t l = -1;
    try {
      l = std::stoll(s.name.substr(4, dot - 4));
    } catch (...) {
      bad("names no layer");
    }
    const std::string field = s.name.substr(dot + 1);
    const bool stm = field == "stm";  // xl's mems: every layer has them
    if (stm && !cfg_.xl()) bad("is an --integration xl memory");
    if (l < 0 || l >= cfg_.n_layers || (!stm && !layers_.empty() && !layers_[l].memory))
      bad("names a layer without memory");
    LayerMemory& lm = m.layers[static_cast<size_t>(l)];
    std::vector<double>* dst = field == "mem" ? &lm.mem : field == "coef" ? &lm.coef : field == "mu" ? &lm.mu
                               : field == "sigma" ? &lm.sigma : stm ? &lm.stm : nullptr;
    if (!dst) bad("is unknown");
    if (((field == "mem" || stm) && n % C != 0) || (field == "coef" && n != cfg_.basis * C) ||
        ((field == "mu" || field == "sigma") && n % cfg_.n_heads != 0))
      bad("has the wrong size");
    dst->assign(v, v + n);
  }
}

}  // namespace weft::models
