// Token-representation norms (launch/analyze_norms.h): one tapped forward and backward of the held-out
// batch, then host reductions in float64 (norms per position and token, sub-block update norms, gradient
// norms, attention entropy from q/k, causal mixing mass), and the Spearman summaries.
#include "launch/analyze_norms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "launch/host_values.h"
#include "launch/options.h"
#include "models/common/blocks.h"
#include "models/common/positions.h"
#include "runtime/check.h"
#include "runtime/memory.h"

namespace weft::launch {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> download(const Tensor& t) { return host_doubles(t, "norms"); }

// ||row|| of each row of a (rows, C) row-major matrix.
std::vector<double> row_norms(const std::vector<double>& x, int64_t C) {
  std::vector<double> n(x.size() / static_cast<size_t>(C));
  for (size_t r = 0; r < n.size(); ++r) {
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += x[r * C + c] * x[r * C + c];
    n[r] = std::sqrt(s);
  }
  return n;
}

std::vector<double> var_row_norms(const Var& v) { return row_norms(download(v->value), v->value.shape[-1]); }

double mean(const std::vector<double>& v) {
  return v.empty() ? kNaN : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// (T, 4): mean, p10, p50, p90 over b of norms (B, T).
std::vector<double> position_stats(const std::vector<double>& norms, int64_t B, int64_t T) {
  std::vector<double> out(static_cast<size_t>(T * 4));
  std::vector<double> col(static_cast<size_t>(B));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) col[b] = norms[b * T + t];
    std::sort(col.begin(), col.end());
    out[t * 4 + 0] = mean(col);
    out[t * 4 + 1] = percentile_sorted(col, 0.1);
    out[t * 4 + 2] = percentile_sorted(col, 0.5);
    out[t * 4 + 3] = percentile_sorted(col, 0.9);
  }
  return out;
}

// (V, 2): mean of norms (B T) and count, bucketed by ids[b * stride + t + shift].
std::vector<double> by_token(const std::vector<double>& norms, const NormBatch& nb, int64_t V, int64_t shift) {
  std::vector<double> out(static_cast<size_t>(V * 2), 0.0);
  for (int64_t b = 0; b < nb.B; ++b)
    for (int64_t t = 0; t < nb.T; ++t) {
      const int64_t v = nb.ids[b * (nb.T + 1) + t + shift];
      if (v < 0 || v >= V) continue;
      out[v * 2] += norms[b * nb.T + t];
      out[v * 2 + 1] += 1.0;
    }
  for (int64_t v = 0; v < V; ++v) out[v * 2] = out[v * 2 + 1] > 0 ? out[v * 2] / out[v * 2 + 1] : kNaN;
  return out;
}

// rho(mean norm, log count) over the tokens present in the batch (count > 0).
double rho_by_token(const std::vector<double>& table, const std::vector<int64_t>& count) {
  std::vector<double> x, y;
  for (size_t v = 0; v < count.size(); ++v)
    if (table[v * 2 + 1] > 0) {
      x.push_back(table[v * 2]);
      y.push_back(std::log1p(static_cast<double>(count[v])));
    }
  return spearman(x, y);
}

double rho_rows(const std::vector<double>& norms, const std::vector<int64_t>& count) {
  if (norms.empty() || count.size() != norms.size()) return kNaN;
  std::vector<double> y(count.size());
  for (size_t v = 0; v < count.size(); ++v) y[v] = std::log1p(static_cast<double>(count[v]));
  return spearman(norms, y);
}

// Mean over (b, t) of each head's attention entropy: q, k (B, T, NH, HS), probabilities
// softmax over the visible keys j (j <= i, inside the window) of q_i . k_j / sqrt(HS) + bias(h, i, j). -> (NH, T).
std::vector<double> attention_entropy(const Var& qv, const Var& kv, const HostAttentionBias& bias) {
  const Shape& s = qv->value.shape;
  const int64_t B = s[0], T = s[1], NH = s[2], HS = s[3];
  const std::vector<double> q = download(qv->value), k = download(kv->value);
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  std::vector<double> out(static_cast<size_t>(NH * T), 0.0), logit(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < T; ++i) {
        const double* qi = &q[((b * T + i) * NH + h) * HS];
        double mx = -std::numeric_limits<double>::infinity();
        const int64_t j0 = bias.first_key(i);
        for (int64_t j = j0; j <= i; ++j) {
          const double* kj = &k[((b * T + j) * NH + h) * HS];
          double d = 0.0;
          for (int64_t c = 0; c < HS; ++c) d += qi[c] * kj[c];
          logit[j] = d * scale + bias(h, i, j);
          mx = std::max(mx, logit[j]);
        }
        double z = 0.0, zl = 0.0;  // H = log Z - sum p (l - mx), with l - mx
        for (int64_t j = j0; j <= i; ++j) {
          const double e = std::exp(logit[j] - mx);
          z += e;
          zl += e * (logit[j] - mx);
        }
        out[h * T + i] += (std::log(z) - zl / z) / static_cast<double>(B);
      }
  return out;
}

const char* const kMixingTaps[] = {"attn", "att", "mix", "bag"};  // token-mixing sub-blocks of the families

}  // namespace

double HostAttentionBias::operator()(int64_t h, int64_t i, int64_t j) const {
  switch (kind) {
    case Kind::alibi: return -slopes[h] * static_cast<double>(i - j);
    case Kind::table: {
      const size_t d = static_cast<size_t>(std::llabs(i - j));
      return slopes[h] * table[std::min(d, table.size() - 1)];
    }
    default: return 0.0;
  }
}

HostAttentionBias attention_bias_of(const std::string& model_name, const std::string& config_ini, int64_t T) {
  HostAttentionBias b;
  auto m = ini_section(config_ini, "model");
  // The window of every family that has one (the transformer and the hybrid); only the transformer adds a bias.
  if (m.count("attention-window")) b.window = std::stoll(m["attention-window"]);
  if (model_name != "transformer") return b;  // the other attention families use RoPE or no bias
  const std::string pos = m.count("position") ? m["position"] : "learned";
  const int heads = m.count("n-heads") ? std::stoi(m["n-heads"]) : 4;
  if (pos == "alibi") {
    b.kind = HostAttentionBias::Kind::alibi;
    b.slopes = models::alibi_slopes(heads);
  } else if (pos == "sandwich") {
    b.kind = HostAttentionBias::Kind::table;
    b.slopes = models::sandwich_head_scales(heads);
    b.table = models::sandwich_table(m.count("sandwich-dim") ? std::stoi(m["sandwich-dim"]) : 128, std::max<int64_t>(T, 1));
  }
  return b;
}

double percentile_sorted(const std::vector<double>& s, double p) {
  if (s.empty()) return kNaN;
  const double r = p * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(r)), hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (r - static_cast<double>(lo)) * (s[hi] - s[lo]);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  WEFT_CHECK(x.size() == y.size(), "[norms] spearman of ", x.size(), " and ", y.size(), " values");
  const size_t n = x.size();
  if (n < 2) return kNaN;
  auto ranks = [n](const std::vector<double>& v) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
      for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);  // average rank
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double mx = mean(rx), my = mean(ry);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxx > 0.0 && syy > 0.0 ? sxy / std::sqrt(sxx * syy) : kNaN;
}

NormDiagnostics measure_norms(models::Model& model, ParamStore& store, Exec& ex, Arena& arena, const NormBatch& nb,
                              const std::vector<int64_t>& token_count, const HostAttentionBias& bias) {
  const int64_t B = nb.B, T = nb.T, V = model.vocab_size();
  WEFT_CHECK(B > 0 && T > 0 && static_cast<int64_t>(nb.ids.size()) == B * (T + 1), "[norms] the batch holds ",
             nb.ids.size(), " ids, not ", B, " x ", T + 1);
  NormDiagnostics d;
  d.V = V;
  d.T = T;
  // Embedding and unembedding rows (every family names them so; lm_head / head absent: tied).
  const int emb = store.find("tok_emb.weight");
  WEFT_CHECK(emb >= 0, "[norms] model '", model.name(), "' has no tok_emb.weight parameter");
  d.emb_row_norm = row_norms(download(store.value(emb)), store.info(emb).shape[1]);
  int head = store.find("lm_head.weight");
  if (head < 0) head = store.find("head.weight");
  if (head >= 0) d.unemb_row_norm = row_norms(download(store.value(head)), store.info(head).shape[1]);

  // The forward with taps, and the backward of the mean loss over the B T targets.
  std::vector<int32_t> in(static_cast<size_t>(B * T)), tg(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      in[b * T + t] = nb.ids[b * (T + 1) + t];
      tg[b * T + t] = nb.ids[b * (T + 1) + t + 1];
    }
  models::Taps taps({"embed", "blocks.*", "final"});
  model.set_taps(&taps);
  Graph g(ex, arena);
  Tensor inputs = g.alloc(DType::i32, {B, T}), targets = g.alloc(DType::i32, {B, T});
  device_copy(inputs.device, inputs.data, Device::cpu, in.data(), inputs.nbytes());
  device_copy(targets.device, targets.data, Device::cpu, tg.data(), targets.nbytes());
  Var loss = nullptr;
  try {
    models::Batch batch{inputs, targets, static_cast<float>(B * T)};
    loss = models::next_token_loss(g, model.logits(g, store, inputs), batch);
    g.backward(loss);
  } catch (...) {
    model.set_taps(nullptr);
    throw;
  }
  model.set_taps(nullptr);
  d.loss = download(loss->value)[0];

  // h^(0) .. h^(N).
  std::vector<Var> h{taps.find("embed")};
  WEFT_CHECK(h[0], "[norms] model '", model.name(), "' offers no 'embed' tap");
  for (int64_t l = 0;; ++l) {
    Var v = taps.find("blocks." + std::to_string(l) + ".out");
    if (!v) break;
    h.push_back(v);
  }
  d.N = static_cast<int64_t>(h.size()) - 1;
  WEFT_CHECK(d.N >= 1, "[norms] model '", model.name(), "' offers no 'blocks.<l>.out' tap");
  std::vector<std::vector<double>> norms;  // [N + 1] (B, T)
  for (const Var& v : h) {
    norms.push_back(var_row_norms(v));
    d.h_norm_pos.push_back(position_stats(norms.back(), B, T));
    d.grad_h_norm.push_back(v->grad.defined() ? mean(row_norms(download(v->grad), v->value.shape[-1])) : kNaN);
  }
  if (Var f = taps.find("final")) d.h_norm_pos_final = position_stats(var_row_norms(f), B, T);
  const std::vector<double>& last = norms.back();
  d.mean_final_norm = mean(last);
  d.mean_emb_norm = mean(d.emb_row_norm);
  d.h_norm_tok = by_token(last, nb, V, 0);
  d.h_norm_next_tok = by_token(last, nb, V, 1);

  // The inner-step size: the token-mixing sub-blocks' output (summed where a layer has two, the hybrid's
  // attention and mixer), else the residual difference.
  for (int64_t l = 0; l < d.N; ++l) {
    std::vector<double> sum;
    std::string source;
    for (const char* name : kMixingTaps) {
      Var v = taps.find("blocks." + std::to_string(l) + "." + name);
      if (!v) continue;
      const std::vector<double> x = download(v->value);
      if (sum.empty()) sum.assign(x.size(), 0.0);
      for (size_t i = 0; i < x.size(); ++i) sum[i] += x[i];
      source += std::string(source.empty() ? "blocks.<l>." : "+") + name;
    }
    if (sum.empty()) {
      const std::vector<double> a = download(h[l]->value), b = download(h[l + 1]->value);
      sum.resize(a.size());
      for (size_t i = 0; i < a.size(); ++i) sum[i] = b[i] - a[i];
      source = "h^(l+1) - h^(l)";
    }
    d.update_norm.push_back(mean(row_norms(sum, h[0]->value.shape[-1])));
    if (l == 0) d.update_source = source;
  }

  // Attention entropy where the family taps q and k.
  for (int64_t l = 0; l < d.N; ++l) {
    Var q = taps.find("blocks." + std::to_string(l) + ".q"), k = taps.find("blocks." + std::to_string(l) + ".k");
    if (!q || !k) break;
    d.heads = q->value.shape[2];
    d.attn_entropy.push_back(attention_entropy(q, k, bias));
  }
  g.clear();
  store.zero_grads();  // the weights were only measured: drop what the backward accumulated

  // Causal mixing matrices (declared with a lower-triangular init): row l1 mass of tril(W) per position.
  d.mix_row_l1.assign(static_cast<size_t>(d.N), {});
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& p = store.info(id);
    if (!p.init.lower_triangular || p.shape.rank != 2 || p.name.rfind("blocks.", 0) != 0) continue;
    const int64_t l = std::stoll(p.name.substr(7, p.name.find('.', 7) - 7)), L = p.shape[0];
    if (l < 0 || l >= d.N) continue;
    const std::vector<double> w = download(store.value(id));
    std::vector<double>& row = d.mix_row_l1[l];
    for (int64_t i = 0; i < T && i < L; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j <= i; ++j) s += std::fabs(w[i * p.shape[1] + j]);
      row.push_back(s);
    }
  }
  d.mix_mats = static_cast<int64_t>(d.mix_row_l1[0].size()) / T;  // the forward ran T <= L positions
  if (d.mix_mats == 0) d.mix_row_l1.clear();

  d.rho_h_tok = token_count.empty() ? kNaN : rho_by_token(d.h_norm_tok, token_count);
  d.rho_h_next_tok = token_count.empty() ? kNaN : rho_by_token(d.h_norm_next_tok, token_count);
  d.rho_emb = rho_rows(d.emb_row_norm, token_count);
  d.rho_unemb = rho_rows(d.unemb_row_norm, token_count);
  return d;
}

}  // namespace weft::launch
