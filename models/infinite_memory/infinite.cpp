// The infinity-former's parameters and forward pass (models/infinite_memory/infinite.h): the GPT-2 decoder
// layer by layer, each layer's segments in order, the long-term memory of a segment built from the previous
// segment's layer inputs (xl: the STM over the previous segment and the current one, the LTM fed with the
// segment before). The state hooks are in state.cpp.
#include "models/infinite_memory/infinite.h"

#include <algorithm>
#include <cmath>

#include "models/common/constants.h"
#include "runtime/check.h"
#include "runtime/kernels.h"

namespace weft::models {

namespace {
bool any(const std::vector<char>& v) { return std::any_of(v.begin(), v.end(), [](char c) { return c != 0; }); }
bool all(const std::vector<char>& v) { return std::all_of(v.begin(), v.end(), [](char c) { return c != 0; }); }

std::vector<double> host_doubles(const Tensor& t) {
  std::vector<char> raw(t.nbytes());
  device_copy(Device::cpu, raw.data(), t.device, t.data, raw.size());
  std::vector<double> out(static_cast<size_t>(t.numel()));
  Exec ex = host_exec();
  cpu::cast(ex, DType::f64, out.data(), t.dtype, raw.data(), t.numel(), false);
  return out;
}

Var row_mask(Graph& g, const std::vector<char>& on, Shape shape, DType dt) {  // shape (B, 1, ...)
  std::vector<double> m(on.begin(), on.end());
  return ltm::arena_constant(g, m, shape, dt);
}

// The rows' xl mems of layer li ((len, C) each) as one (B, len, C) constant, zeros where a row has none
// (present[b] = 0); null when no row has any. Rows that have mems must agree on len.
Var stm_of_rows(Graph& g, const std::vector<InfiniteModel::StreamMemory>& rows, size_t li, int64_t C, DType dt,
                int64_t& len, std::vector<char>& present) {
  const int64_t B = static_cast<int64_t>(rows.size());
  len = 0;
  present.assign(static_cast<size_t>(B), 0);
  std::vector<double> v;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<double>& m = rows[b].layers[li].stm;
    if (m.empty()) continue;
    const int64_t n = static_cast<int64_t>(m.size()) / C;
    WEFT_CHECK(len == 0 || n == len, "[infinite] streams of one batch carry STM memories of ", len, " and ", n,
               " vectors (segment lengths must agree)");
    if (len == 0) v.assign(static_cast<size_t>(B * n * C), 0.0), len = n;
    std::copy(m.begin(), m.end(), v.begin() + b * n * C);
    present[b] = 1;
  }
  return len > 0 ? ltm::arena_constant(g, v, {B, len, C}, dt) : nullptr;
}

// Causal attention of the queries q (Bn, S, C) over [the mems' keys / values km, vm (Bn, Lm, C), when km; the
// segment's k, v (Bn, S, C)] in H heads: query i at key position Lm + i (ops::attention's offset). rope: queries
// rotated at positions Lm.., keys from 0 (xl's relative positions).
Var stm_attention(Graph& g, Var q, Var k, Var v, Var km, Var vm, int64_t H, bool rope) {
  const int64_t Bn = q->value.shape[0], S = q->value.shape[1], C = q->value.shape[2], d = C / H;
  const int64_t Lm = km ? km->value.shape[1] : 0;
  if (km) k = ops::concat(g, {km, k}, 1), v = ops::concat(g, {vm, v}, 1);
  Var q4 = ops::reshape(g, q, {Bn, S, H, d}), k4 = ops::reshape(g, k, {Bn, Lm + S, H, d});
  if (rope) q4 = ops::rope(g, q4, d, 10000.0f, Lm), k4 = ops::rope(g, k4, d, 10000.0f, 0);
  Var o = ops::attention(g, q4, k4, ops::reshape(g, v, {Bn, Lm + S, H, d}));
  return ops::reshape(g, o, {Bn, S, C});
}
}  // namespace

InfiniteModel::InfiniteModel(InfiniteConfig cfg) : cfg_(std::move(cfg)) {
  cfg_.validate();
  basis_ = ltm::gaussian_basis(cfg_.basis, cfg_.widths);
  const std::vector<bool> on = cfg_.memory_layers();
  n_memory_layers_ = std::count(on.begin(), on.end(), true);
}

void InfiniteModel::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size, F = cfg_.ff(), L = cfg_.n_layers, N = cfg_.basis;
  const Init w_init = Init::Normal(0.02), residual = Init::Normal(0.02 / std::sqrt(2.0 * L));  // GPT-2
  tok_emb_ = store.add("tok_emb.weight", {V, C}, w_init);
  if (!cfg_.xl()) pos_emb_ = store.add("pos_emb.weight", {cfg_.segment_len(), C}, w_init);  // xl: RoPE
  const std::vector<bool> on = cfg_.memory_layers();
  layers_.resize(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    Layer& y = layers_[l];
    const std::string p = "blocks." + std::to_string(l);
    y.ln1 = declare_norm(store, p + ".ln1", C, true);
    y.attn.qkv = declare_linear(store, p + ".attn.qkv", 3 * C, C, w_init, true);
    y.attn.proj = declare_linear(store, p + ".attn.proj", C, C, residual, true);
    y.ln2 = declare_norm(store, p + ".ln2", C, true);
    y.mlp.fc = declare_linear(store, p + ".mlp.fc", F, C, w_init, true);
    y.mlp.proj = declare_linear(store, p + ".mlp.proj", C, F, residual, true);
    y.memory = on[static_cast<size_t>(l)];
    if (!y.memory) continue;
    // The new LTM linears N(0, 0.02) (HF _init_weights); the mask Conv1d at PyTorch's default U(+-1/sqrt(3C)).
    y.key = store.add(p + ".ltm.key.weight", {C, C}, w_init);
    y.value = store.add(p + ".ltm.value.weight", {C, C}, w_init);
    y.out = store.add(p + ".ltm.out.weight", {C, C}, w_init);
    y.mu = store.add(p + ".ltm.mu.weight", {1, N}, w_init);
    y.sigma = store.add(p + ".ltm.sigma.weight", {1, N}, w_init);
    if (cfg_.mask) {
      const double bound = 1.0 / std::sqrt(3.0 * static_cast<double>(C));
      y.mask_w = store.add(p + ".ltm.mask.weight", {C, 3, C}, Init::Uniform(bound));
      y.mask_b = store.add(p + ".ltm.mask.bias", {C}, Init::Uniform(bound), false);
    }
  }
  ln_f_ = declare_norm(store, "ln_f", C, true);
}

ltm::Weights InfiniteModel::weights(Graph& g, ParamStore& store, const Layer& l) const {
  ltm::Weights w{g.param(store, l.key), g.param(store, l.value), g.param(store, l.out), g.param(store, l.mu),
                 g.param(store, l.sigma), nullptr, nullptr};
  if (l.mask_w >= 0) {
    w.mask_w = g.param(store, l.mask_w);
    w.mask_b = g.param(store, l.mask_b);
  }
  return w;
}

// kind 0: G of a first update of a vectors; 1: G of a contraction of a samples and b new vectors; 2: the basis
// centres (N); 3: the basis variances sigma_n^2 (N).
Var InfiniteModel::cached(Graph& g, int kind, int64_t a, int64_t b, DType dt) {
  const std::vector<int64_t> key{kind, a, b, static_cast<int64_t>(dt), static_cast<int64_t>(g.device())};
  auto it = constants_.find(key);
  if (it == constants_.end()) {
    std::vector<double> v;
    Shape shape{basis_.size()};
    if (kind == 0) {
      v = ltm::ridge_matrix(basis_, ltm::first_update_design(a), cfg_.ridge);
      shape = {a, basis_.size()};
    } else if (kind == 1) {
      v = ltm::ridge_matrix(basis_, ltm::contraction_design(a, b, cfg_.tau), cfg_.ridge);
      shape = {a + b, basis_.size()};
    } else if (kind == 2) {
      v = basis_.mu;
    } else {
      for (double s : basis_.sigma) v.push_back(s * s);
    }
    it = constants_.emplace(key, device_constant(v, shape, dt, g.device())).first;
  }
  return g.constant(it->second.tensor());
}

InfiniteModel::Forward InfiniteModel::forward(Graph& g, ParamStore& store, const Tensor& ids,
                                              std::vector<StreamMemory>& rows, PhiloxKey key, const int64_t* streams,
                                              Var embeddings) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[infinite] ids must be i32 (B, T), got ", ids.str());
  const int64_t B = ids.shape[0], T = ids.shape[1], C = cfg_.d_model, H = cfg_.n_heads, d = C / H, S = cfg_.segment_len();
  const int64_t N = cfg_.basis, M = cfg_.samples, nL = cfg_.n_layers;
  const DType dt = store.dtype();
  const bool xl = cfg_.xl();
  std::vector<int64_t> sizes;  // segment lengths
  for (int64_t t = 0; t < T; t += S) sizes.push_back(std::min(S, T - t));
  const size_t nc = sizes.size();

  Var x = embeddings ? embeddings : ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, T, C)
  if (!xl) {  // learned positions within the segment (xl: RoPE in the STM)
    std::vector<double> pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<double>(t % S);
    x = ops::add(g, x, ops::embedding(g, ltm::arena_constant(g, pos, {T}, DType::i32), g.param(store, pos_emb_)));
  }
  if (tapping()) tap("embed", x);

  // Per segment and row, decided once for every layer: has a memory, drops its coefficients (tokens:N), and
  // the row's update counter (the sticky sampler's Philox counter).
  int first_memory = -1;
  for (size_t l = 0; l < layers_.size(); ++l)
    if (layers_[l].memory && first_memory < 0) first_memory = static_cast<int>(l);
  std::vector<std::vector<char>> has(nc, std::vector<char>(B, 0)), drop = has;
  std::vector<std::vector<int64_t>> counter(nc, std::vector<int64_t>(B, 0));
  for (int64_t b = 0; b < B; ++b) rows[b].layers.resize(static_cast<size_t>(nL));
  for (int64_t b = 0; b < B && first_memory >= 0; ++b) {
    StreamMemory& r = rows[b];
    const int64_t first_len = static_cast<int64_t>(r.layers[first_memory].mem.size()) / C;
    const int64_t stm_len = static_cast<int64_t>(r.layers[first_memory].stm.size()) / C;
    for (size_t c = 0; c < nc; ++c) {  // the LTM's new vectors: gpt2 the previous segment, xl the one before
      const int64_t len = c == 0 ? first_len : !xl ? sizes[c - 1] : c == 1 ? stm_len : sizes[c - 2];
      if (len == 0) continue;
      has[c][b] = 1;
      if (cfg_.reset_tokens > 0 && r.tokens >= cfg_.reset_tokens) drop[c][b] = 1, r.tokens = 0;
      r.tokens += len;
      counter[c][b] = r.updates++;
    }
  }

  Var kl = nullptr;  // ltm_kl: sum over memory layers
  const double floor = cfg_.sigma_floor;
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& ly = layers_[li];
    Var h = norm(g, store, NormKind::layernorm, ly.ln1, x, 1e-5f);
    std::vector<Var> qkv = ops::split(g, linear(g, store, ly.attn.qkv, h), {C, C, C}, -1);  // (B, T, C) each
    std::vector<Var> qs{qkv[0]}, ks{qkv[1]}, vs{qkv[2]}, xs{x};
    if (nc > 1) {
      qs = ops::split(g, qkv[0], sizes, 1), ks = ops::split(g, qkv[1], sizes, 1), vs = ops::split(g, qkv[2], sizes, 1);
      xs = ops::split(g, x, sizes, 1);
    }
    // xl: the mems before segment 0 from the rows' state.
    int64_t stm_len = 0;
    std::vector<char> has_stm(B, 0);
    Var stm = xl ? stm_of_rows(g, rows, li, C, dt, stm_len, has_stm) : nullptr;
    std::vector<Var> att(nc), ltm_out(nc);
    for (size_t c = 0; c < nc; ++c) {  // the STM: causal attention within the segment (xl: after the mems)
      Var x_mem = !xl ? nullptr : c == 0 ? stm : cfg_.detach ? g.constant(xs[c - 1]->value) : xs[c - 1];
      Var km = nullptr, vm = nullptr;
      if (x_mem && c > 0 && !cfg_.detach) {
        km = ks[c - 1], vm = vs[c - 1];  // the same LN1 + qkv of the same inputs
      } else if (x_mem) {  // TrXL: the mems' keys and values with the current weights
        std::vector<Var> kv = ops::split(
            g, linear(g, store, ly.attn.qkv, norm(g, store, NormKind::layernorm, ly.ln1, x_mem, 1e-5f)), {C, C, C}, -1);
        km = kv[1], vm = kv[2];
      }
      if (c == 0 && km && !all(has_stm)) {  // rows that start a stream see no mems: row by row
        const std::vector<int64_t> ones(static_cast<size_t>(B), 1);
        std::vector<Var> q1 = ops::split(g, qs[c], ones, 0), k1 = ops::split(g, ks[c], ones, 0),
                         v1 = ops::split(g, vs[c], ones, 0), km1 = ops::split(g, km, ones, 0),
                         vm1 = ops::split(g, vm, ones, 0), o1(static_cast<size_t>(B));
        for (int64_t b = 0; b < B; ++b)
          o1[b] = stm_attention(g, q1[b], k1[b], v1[b], has_stm[b] ? km1[b] : nullptr, vm1[b], H, true);
        att[c] = ops::concat(g, o1, 0);
      } else {
        att[c] = stm_attention(g, qs[c], ks[c], vs[c], km, vm, H, xl);
      }
    }
    Var a = linear(g, store, ly.attn.proj, nc > 1 ? ops::concat(g, att, 1) : att[0]);
    if (ly.memory) {
      const ltm::Weights w = weights(g, store, ly);
      // The memory before segment 0, from the rows' state: (B, len, C) inputs, (B, N, C) coefficients.
      Var mem = nullptr, coef = nullptr;
      int64_t mem_len = 0;
      std::vector<char> has_coef(B, 0);
      {
        std::vector<double> mv, cv(static_cast<size_t>(B * N * C), 0.0);
        for (int64_t b = 0; b < B; ++b) {
          const LayerMemory& lm = rows[b].layers[li];
          if (!lm.mem.empty()) {
            const int64_t len = static_cast<int64_t>(lm.mem.size()) / C;
            WEFT_CHECK(mem_len == 0 || len == mem_len, "[infinite] streams of one batch carry memories of ",
                       mem_len, " and ", len, " vectors (segment lengths must agree)");
            if (mem_len == 0) mv.assign(static_cast<size_t>(B * len * C), 0.0), mem_len = len;
            std::copy(lm.mem.begin(), lm.mem.end(), mv.begin() + b * len * C);
          }
          if (!lm.coef.empty()) {
            std::copy(lm.coef.begin(), lm.coef.end(), cv.begin() + b * N * C);
            has_coef[b] = 1;
          }
        }
        if (mem_len > 0) mem = ltm::arena_constant(g, mv, {B, mem_len, C}, dt);
        if (any(has_coef)) coef = ltm::arena_constant(g, cv, {B, N, C}, dt);
      }
      Var kl_sum = nullptr;
      double kl_count = 0;
      for (size_t c = 0; c < nc; ++c) {
        const std::vector<char>& on = has[c];
        if (any(on)) {
          std::vector<char> first(B, 0), contract(B, 0);
          for (int64_t b = 0; b < B; ++b) {
            if (drop[c][b]) has_coef[b] = 0;
            first[b] = on[b] && !has_coef[b];
            contract[b] = on[b] && has_coef[b];
          }
          Var x_new = w.mask_w ? ltm::mask_gate(g, w, mem) : mem;
          Var c_first = nullptr, c_contract = nullptr;
          if (any(first)) c_first = ltm::update(g, nullptr, x_new, cached(g, 0, mem_len, 0, dt));
          if (any(contract)) {
            std::vector<double> psi(static_cast<size_t>(B * M * N), 0.0);
            for (int64_t b = 0; b < B; ++b) {
              if (!contract[b]) continue;
              std::vector<double> u = ltm::uniform_samples(M);
              if (cfg_.sticky) {
                const LayerMemory& lm = rows[b].layers[li];
                const uint32_t stream = static_cast<uint32_t>(streams ? streams[b] : b);
                const uint64_t offset = static_cast<uint64_t>(counter[c][b] * nL + static_cast<int64_t>(li)) *
                                        static_cast<uint64_t>((M + 3) / 4);
                u = ltm::sticky_samples(ltm::sticky_bin_mass(lm.mu.data(), lm.sigma.data(),
                                                             static_cast<int64_t>(lm.mu.size()), cfg_.sticky_bins),
                                        M, key, stream, offset);
              }
              const std::vector<double> p = ltm::evaluate(basis_, u);
              std::copy(p.begin(), p.end(), psi.begin() + b * M * N);
            }
            Var old = ltm::sample_old(g, ltm::arena_constant(g, psi, {B, M, N}, dt), coef);
            c_contract = ltm::update(g, old, x_new, cached(g, 1, M, mem_len, dt));
          }
          Var fresh = !c_contract ? c_first
                      : !c_first  ? c_contract
                                  : ops::add(g, ops::mul(g, c_first, row_mask(g, first, {B, 1, 1}, dt)),
                                             ops::mul(g, c_contract, row_mask(g, contract, {B, 1, 1}, dt)));
          const Shape q4{B, sizes[c], H, d};
          ltm::Attention at = ltm::attend(g, w, ops::reshape(g, qs[c], q4), fresh, cached(g, 2, 0, 0, dt),
                                          cached(g, 3, 0, 0, dt), floor, cfg_.sigma0);
          Var z = at.z, terms = at.kl_terms;
          if (!all(on)) {
            z = ops::mul(g, z, row_mask(g, on, {B, 1, 1}, dt));
            terms = ops::mul(g, terms, row_mask(g, on, {B, 1, 1, 1}, dt));
          }
          ltm_out[c] = z;
          Var s = ops::sum_all(g, terms);
          kl_sum = kl_sum ? ops::add(g, kl_sum, s) : s;
          kl_count += static_cast<double>(std::count(on.begin(), on.end(), 1) * H * sizes[c]);
          if (cfg_.sticky) {  // this call's (mu, sigma) for the next update's sampler
            const std::vector<double> mu = host_doubles(at.mu->value), s2 = host_doubles(at.sigma_sq->value);
            const int64_t n = H * sizes[c];
            for (int64_t b = 0; b < B; ++b) {
              if (!on[b]) continue;
              LayerMemory& lm = rows[b].layers[li];
              lm.mu.assign(mu.begin() + b * n, mu.begin() + (b + 1) * n);
              lm.sigma.resize(static_cast<size_t>(n));
              for (int64_t i = 0; i < n; ++i) lm.sigma[i] = std::sqrt(s2[b * n + i]);
            }
          }
          coef = cfg_.detach ? g.constant(fresh->value) : fresh;
          has_coef = on;
        }
        if (!xl) {  // this segment's inputs feed the next one
          mem = cfg_.detach ? g.constant(xs[c]->value) : xs[c];
          mem_len = sizes[c];
        } else {  // xl: the previous segment's, which leave the STM now
          mem = c == 0 ? stm : cfg_.detach ? g.constant(xs[c - 1]->value) : xs[c - 1];
          mem_len = c == 0 ? stm_len : sizes[c - 1];
        }
      }
      // The end state of the rows: the LTM's next new vectors (xl with one segment: the rows' old mems, where
      // they had any), the coefficients.
      const std::vector<char> mem_valid = xl && nc == 1 ? has_stm : std::vector<char>(B, 1);
      const std::vector<double> mv = mem ? host_doubles(mem->value) : std::vector<double>{};
      const std::vector<double> cv = coef ? host_doubles(coef->value) : std::vector<double>{};
      for (int64_t b = 0; b < B; ++b) {
        LayerMemory& lm = rows[b].layers[li];
        if (mem && mem_valid[b]) lm.mem.assign(mv.begin() + b * mem_len * C, mv.begin() + (b + 1) * mem_len * C);
        else lm.mem.clear();
        if (has_coef[b]) lm.coef.assign(cv.begin() + b * N * C, cv.begin() + (b + 1) * N * C);
        else lm.coef.clear(), lm.mu.clear(), lm.sigma.clear();
      }
      if (kl_sum) {
        Var layer_kl = ops::add(g, ops::scale(g, kl_sum, static_cast<float>(0.5 / kl_count)),
                                ltm::arena_constant(g, {-0.5}, {1}, dt));
        kl = kl ? ops::add(g, kl, layer_kl) : layer_kl;
        std::vector<Var> parts(nc);
        for (size_t c = 0; c < nc; ++c)
          parts[c] = ltm_out[c] ? ltm_out[c]
                                : ltm::arena_constant(g, std::vector<double>(static_cast<size_t>(B * sizes[c] * C), 0.0),
                                                      {B, sizes[c], C}, dt);
        Var full = nc > 1 ? ops::concat(g, parts, 1) : parts[0];
        if (tapping()) tap("blocks." + std::to_string(li) + ".ltm", full);
        a = ops::add(g, a, full);
      }
    }
    if (xl) {  // the STM's mems of the next segment: this window's last segment's inputs
      const std::vector<double> sv = host_doubles(xs[nc - 1]->value);
      const int64_t n = sizes[nc - 1] * C;
      for (int64_t b = 0; b < B; ++b) rows[b].layers[li].stm.assign(sv.begin() + b * n, sv.begin() + (b + 1) * n);
    }
    x = ops::add(g, x, a);
    Var m = mlp(g, store, ly.mlp, norm(g, store, NormKind::layernorm, ly.ln2, x, 1e-5f), Activation::gelu_tanh);
    x = ops::add(g, x, m);
    if (tapping()) {
      const std::string p = "blocks." + std::to_string(li);
      tap(p + ".attn", a);
      tap(p + ".mlp", m);
      tap(p + ".out", x);
    }
  }
  Var last = x;
  x = norm(g, store, NormKind::layernorm, ln_f_, x, 1e-5f);
  if (!kl) kl = ltm::arena_constant(g, {0.0}, {1}, dt);
  return {ops::linear(g, x, g.param(store, tok_emb_)), kl, last};  // tied head: (B, T, V)
}

Var InfiniteModel::blocks_from_embeddings(Graph& g, ParamStore& store, Var x) {
  const Shape& s = x->value.shape;
  WEFT_CHECK(s.rank == 3 && s[2] == cfg_.d_model, "[infinite] embeddings must be (B, T, ", cfg_.d_model, "), got ",
             x->value.str());
  const OwnedTensor ids(DType::i32, {s[0], s[1]});  // the shape only
  std::vector<StreamMemory> rows(static_cast<size_t>(s[0]));
  return forward(g, store, ids.tensor(), rows, PhiloxKey{0, 0}, nullptr, x).last;
}

Var InfiniteModel::logits(Graph& g, ParamStore& store, const Tensor& ids) {
  std::vector<StreamMemory> rows(static_cast<size_t>(ids.shape[0]));
  return forward(g, store, ids, rows, PhiloxKey{0, 0}, nullptr).logits;
}

Var InfiniteModel::stream_logits(Graph& g, ParamStore& store, const Batch& batch) {
  const int64_t B = batch.inputs.shape[0];
  std::vector<StreamMemory> rows(static_cast<size_t>(B));
  if (!batch.streams || !has_state()) return forward(g, store, batch.inputs, rows, PhiloxKey{0, 0}, nullptr).logits;
  for (int64_t b = 0; b < B; ++b) {
    auto it = memory_.find(batch.streams[b]);
    if (it != memory_.end() && !(batch.starts && batch.starts[b])) rows[b] = it->second;
  }
  Var logits = forward(g, store, batch.inputs, rows, PhiloxKey{0, 0}, batch.streams).logits;
  for (int64_t b = 0; b < B; ++b) memory_[batch.streams[b]] = std::move(rows[b]);
  return logits;
}

LossTerms InfiniteModel::loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  const int64_t B = batch.inputs.shape[0];
  const bool stateful = training && batch.streams && has_state();
  std::vector<StreamMemory> rows(static_cast<size_t>(B));
  if (stateful) {
    for (int64_t b = 0; b < B; ++b) {
      auto it = memory_.find(batch.streams[b]);
      if (it == memory_.end()) continue;
      rows[b] = it->second;
      if (cfg_.memory_reset == "document" && batch.starts && batch.starts[b]) {  // a new document: forget
        rows[b].layers.clear();
        rows[b].tokens = 0;
      }
    }
  }
  Forward f = forward(g, store, batch.inputs, rows, stateful ? rng.key() : PhiloxKey{0, 0},
                      stateful ? batch.streams : nullptr);
  Var xent = next_token_loss(g, f.logits, batch);
  Var kl = f.kl->value.dtype != xent->value.dtype ? ops::cast(g, f.kl, xent->value.dtype) : f.kl;
  Var total = ops::add(g, xent, ops::scale(g, kl, static_cast<float>(cfg_.kl * batch.token_share())));
  if (stateful)
    for (int64_t b = 0; b < B; ++b) memory_[batch.streams[b]] = std::move(rows[b]);
  return LossTerms{total, {AuxTerm{"ltm_kl", kl}}};
}

Var InfiniteModel::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  return loss_terms(g, store, batch, rng, training).total;
}

double InfiniteModel::flops_per_token(int64_t T) const {
  // The transformer's 6N + 6 L T C (T capped at the segment: the STM) plus, per memory layer and token, the
  // LTM's matrices: the query side (scores and context over N basis functions, the output projection) and,
  // per segment of S tokens, keys and values of N coefficients, the update ((M + S) N C) and the mask (3 C^2).
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size),
               F = static_cast<double>(cfg_.ff()), L = static_cast<double>(cfg_.n_layers),
               N = static_cast<double>(cfg_.basis), M = static_cast<double>(cfg_.samples),
               S = static_cast<double>(std::min(T, cfg_.segment_len()));
  // xl: the STM also attends to one segment of mems, whose keys and values (2 C^2 per vector) are recomputed.
  const double dense = L * (4.0 * C * C + 2.0 * C * F + (cfg_.xl() ? 2.0 * C * C : 0.0)) + V * C;
  const double ltm = static_cast<double>(n_memory_layers_) *
                     (2.0 * N * C + C * C + (2.0 * N * C * C + (M + S) * N * C) / S + 3.0 * C * C);
  return 6.0 * (dense + ltm) + 6.0 * L * (cfg_.xl() ? 2.0 : 1.0) * S * C;
}

}  // namespace weft::models
