// The token-norms diagnostics file (launch/norms_file.h): the held-out batch, token counts, and the HDF5
// layout written step by step (only rank 0 calls the writers).
#include "launch/norms_file.h"

#include <algorithm>
#include <filesystem>

#include "data/split.h"
#include "launch/metrics.h"
#include "launch/options.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/check.h"
#include "runtime/rng.h"

namespace weft::launch {

namespace {

std::string step_group(int64_t step) { return "diag/step_" + std::to_string(step); }

void write_doubles(ckpt::H5File& f, const std::string& name, const std::vector<double>& v, Shape shape) {
  WEFT_CHECK(shape.numel() == static_cast<int64_t>(v.size()), "[norms] ", name, ": ", v.size(), " values for ",
             shape.numel());
  f.write(name, DType::f64, shape, v.data());
}

}  // namespace

NormBatch norm_eval_batch(const std::string& dir, int64_t vocab, int64_t B, int64_t T, uint64_t seed) {
  if (data::split_files(dir, "val").empty())
    throw UsageError("the data folder '" + dir + "' has no val split (the held-out batch of the norms)");
  const auto shards = data::open_split(dir, "val", vocab);
  std::vector<int64_t> starts_per_shard;  // windows of T + 1 tokens that fit in each shard
  int64_t windows = 0;
  for (const auto& s : shards) {
    starts_per_shard.push_back(std::max<int64_t>(s->size() - T, 0));
    windows += starts_per_shard.back();
  }
  if (windows == 0)
    throw UsageError("the val split of '" + dir + "' holds no window of " + std::to_string(T + 1) + " tokens");
  NormBatch nb;
  nb.B = B;
  nb.T = T;
  nb.ids.resize(static_cast<size_t>(B * (T + 1)));
  Rng rng(seed, 0);
  for (int64_t b = 0; b < B; ++b) {
    int64_t w = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(windows));
    size_t s = 0;
    while (w >= starts_per_shard[s]) w -= starts_per_shard[s++];
    shards[s]->copy(w, T + 1, nb.ids.data() + b * (T + 1));
  }
  return nb;
}

std::vector<int64_t> token_counts(const std::string& dir, int64_t vocab) {
  std::vector<int64_t> count(static_cast<size_t>(vocab), 0);
  for (const auto& s : data::open_split(dir, "train", vocab))
    for (int64_t i = 0; i < s->size(); ++i) {
      const int32_t v = s->at(i);
      if (v >= 0 && v < vocab) ++count[static_cast<size_t>(v)];
    }
  return count;
}

void open_norms_file(const std::string& path, const NormsFileHeader& h, bool truncate) {
  const bool exists = !truncate && std::filesystem::exists(path);
  ckpt::H5File f = exists ? ckpt::H5File::open_rw(path) : ckpt::H5File::create(path);
  const NormBatch& nb = *h.batch;
  const Shape ids_shape{nb.B, nb.T + 1};
  if (f.has("eval_ids")) {
    WEFT_CHECK(f.shape_of("eval_ids") == ids_shape, "[norms] ", path, " was written for another held-out batch (",
               f.shape_of("eval_ids").str(), " ids, now ", ids_shape.str(), ")");
    std::vector<int32_t> stored(nb.ids.size());
    f.read("eval_ids", DType::i32, ids_shape, stored.data());
    WEFT_CHECK(stored == nb.ids, "[norms] ", path, " holds another held-out batch (/eval_ids differ)");
  } else {
    f.write("eval_ids", DType::i32, ids_shape, nb.ids.data());
    f.set_attr("model", h.model);
    f.set_attr("seq_len", nb.T);
    f.set_attr("batch_size", nb.B);
    f.set_attr("seed", static_cast<int64_t>(h.seed));
  }
  if (!f.has("token_count") && h.token_count && !h.token_count->empty())
    f.write("token_count", DType::i64, Shape{static_cast<int64_t>(h.token_count->size())}, h.token_count->data());
  f.close();
}

bool norms_file_has_step(const std::string& path, int64_t step) {
  if (!std::filesystem::exists(path)) return false;
  return ckpt::H5File::open_read(path).has(step_group(step) + "/loss");  // written last
}

std::vector<int64_t> norms_file_steps(const std::string& path) {
  std::vector<int64_t> steps;
  const std::string prefix = "diag/step_";
  for (const std::string& n : ckpt::H5File::open_read(path).dataset_names()) {
    if (n.rfind(prefix, 0) != 0) continue;
    const size_t slash = n.find('/', prefix.size());
    if (slash != std::string::npos && n.substr(slash + 1) == "loss")
      steps.push_back(std::stoll(n.substr(prefix.size(), slash - prefix.size())));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void write_norms_step(const std::string& path, int64_t step, const NormDiagnostics& d) {
  ckpt::H5File f = ckpt::H5File::open_rw(path);
  const std::string g = step_group(step) + "/";
  write_doubles(f, g + "emb_row_norm", d.emb_row_norm, {d.V});
  f.set_dataset_attr(g + "emb_row_norm", "spearman_log_freq", d.rho_emb);
  if (d.unemb_row_norm.empty()) {
    f.set_dataset_attr(g + "emb_row_norm", "unemb", std::string("tied"));
  } else {
    write_doubles(f, g + "unemb_row_norm", d.unemb_row_norm, {d.V});
    f.set_dataset_attr(g + "unemb_row_norm", "spearman_log_freq", d.rho_unemb);
  }
  for (size_t l = 0; l < d.h_norm_pos.size(); ++l)
    write_doubles(f, g + "h_norm_pos/layer_" + std::to_string(l), d.h_norm_pos[l], {d.T, 4});
  if (!d.h_norm_pos_final.empty()) write_doubles(f, g + "h_norm_pos/final", d.h_norm_pos_final, {d.T, 4});
  write_doubles(f, g + "h_norm_tok", d.h_norm_tok, {d.V, 2});
  f.set_dataset_attr(g + "h_norm_tok", "spearman_log_freq", d.rho_h_tok);
  write_doubles(f, g + "h_norm_next_tok", d.h_norm_next_tok, {d.V, 2});
  f.set_dataset_attr(g + "h_norm_next_tok", "spearman_log_freq", d.rho_h_next_tok);
  write_doubles(f, g + "update_norm", d.update_norm, {d.N});
  f.set_dataset_attr(g + "update_norm", "source", d.update_source);
  write_doubles(f, g + "grad_h_norm", d.grad_h_norm, {d.N + 1});
  for (size_t l = 0; l < d.attn_entropy.size(); ++l)
    write_doubles(f, g + "attn_entropy/layer_" + std::to_string(l), d.attn_entropy[l], {d.heads, d.T});
  for (size_t l = 0; l < d.mix_row_l1.size(); ++l)
    write_doubles(f, g + "mix_row_l1/layer_" + std::to_string(l), d.mix_row_l1[l], {d.mix_mats, d.T});
  write_doubles(f, g + "loss", {d.loss}, {1});  // last: its presence marks a complete step
  f.close();
}

std::string norms_json_line(int64_t step, const NormDiagnostics& d, const std::string& model) {
  JsonLine j;
  j.integer("step", step)
      .num("eval_loss", d.loss)
      .num("mean_final_norm", d.mean_final_norm)
      .num("mean_emb_norm", d.mean_emb_norm)
      .num("rho_h_tok", d.rho_h_tok)
      .num("rho_h_next_tok", d.rho_h_next_tok)
      .num("rho_emb", d.rho_emb);
  if (!d.unemb_row_norm.empty()) j.num("rho_unemb", d.rho_unemb);
  j.num("update_norm_first", d.update_norm.front()).num("update_norm_last", d.update_norm.back());
  j.num("grad_h_norm_first", d.grad_h_norm.front()).num("grad_h_norm_last", d.grad_h_norm.back());
  return j.integer("layers", d.N).str("model", model).text();
}

}  // namespace weft::launch
