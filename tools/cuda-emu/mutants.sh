#!/usr/bin/env bash
# Sanity check of the checks: plants known bugs (one at a time) in generated copies of the kernels and
# expects run.sh to report at least one FAIL for each. Prints CAUGHT / MISSED per mutant (ERROR when the
# build or the run failed without a failing case).
# Usage: tools/cuda-emu/mutants.sh [word]   (only the mutants whose description contains word)
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/cuda-emu}-mutant
mutants=(
  "norm|rows.cuh|for (int o = 16; o > 0; o >>= 1)|for (int o = 8; o > 0; o >>= 1)|warp butterfly skips lane 16"
  "norm|rows.cuh|    __syncthreads();  // warp_part may be reused|    // (barrier removed)|block all-reduce without the reuse barrier"
  "norm|bcast_reduce.cuh|for (int c = 0; c < chunks; ++c)|for (int c = 1; c < chunks; ++c)|column reduction drops chunk 0"
  "xent|xent.cu|if (c + k == t) acc[k] -= scale;|if (c == t) acc[k] -= scale;|xent target index inside a vector pack"
  "optim|optim.cu|__syncthreads();|/* barrier removed */|block_sum reads shared memory before the barrier"
  "optim|optim.cu|      while (r < R && ranges[2 * r + 1] <= i + k) ++r;|      (void)0;|multi-tensor AdamW keeps a range past its end inside a pack"
  "layout|layout.cu|tile[r / D][cl * D + r % D]|tile[r / D][cl * D]|permute tile column"
  "index|index.cu|a.i < b.i)|a.i > b.i)|topk tie order"
  "index|index.cu|      for (int off = 16; off > 0; off /= 2) {|      if (best.i >= 0) for (int off = 16; off > 0; off /= 2) {|topk shuffles only in lanes with a candidate (divergent)"
  "layout|layout.cu|if (c0 + cl < C && b0 * D + r < B * D)|if (c0 + cl < C)|permute writes past the last row of a tile (bounds)"
  "reduce|reduce.cu|for (int64_t l = t; l < len; l += G)|for (int64_t l = t; l < len - 1; l += G)|reduce_sum drops the last element"
  "mix|mix.cu|    } else if (!accumulate) {|    } else if (false) {|tril_copy leaves the upper triangle of a copy"
  "mix|mix.cu|store(dst, i * ld_dst + j, accumulate|store(dst, i * ld_src + j, accumulate|tril_copy writes with the source's leading dimension"
  "moe|moe.cu|if (keys[mid] < static_cast<uint32_t>(e))|if (keys[mid] <= static_cast<uint32_t>(e))|moe_route offsets: upper instead of lower bound"
  "moe|moe.cu|store(dst, row * C + c, accumulate ? load(dst, row * C + c) + v : v)|store(dst, r * C + c, accumulate ? load(dst, row * C + c) + v : v)|moe_scatter_rows writes to the source row"
  "attention|attention_forward.cu|for (int n = 0; n < NC; ++n) o[a][n] *= al;|(void)al;|attention f32 forward skips the online-softmax rescale"
  "attention|attention_tc_forward.cu|    __syncthreads();  // the previous tile's K, V, S and P are no longer read, O is stored|    // (barrier removed)|attention tensor-core forward reloads K, V without the reuse barrier"
  "attention|attention_tc.cuh|FragAt w;|FragA w;|attention tensor-core dk / dv read W^T as W (fragment layout)"
  "attention|attention_tiles.cuh|i < T_ && d < hs ? load|i < T_ ? load|attention f32 tiles read the next head's channels into the padding"
  "attention|attention_tc_forward.cu|if (i0 + r < T_ && d < hs)|if (i0 + r < T_)|attention tensor-core forward writes its padded columns over the next head"
  "attention|attention_tiles.cuh|const int64_t end = j0 + kTile - 1 + bias.window - (Tk - Tq);|const int64_t end = j0 + bias.window - (Tk - Tq);|attention window: dk / dv stop at the queries of the key tile's first key"
)
for m in "${mutants[@]}"; do
  IFS='|' read -r group file old new what <<<"$m"
  [[ -n "${1:-}" && "$what" != *"$1"* ]] && continue  # optional filter: a word of the description
  if BUILD=$BUILD EMU_MUTATE="$file|$old|$new" tools/cuda-emu/run.sh "$group" >"$BUILD.log" 2>&1; then
    echo "MISSED $what ($file)"
  elif grep -q '^FAIL' "$BUILD.log"; then
    echo "CAUGHT $what ($file): $(grep -c '^FAIL' "$BUILD.log") failing cases, e.g. $(grep -m1 '^FAIL' "$BUILD.log" | cut -c1-150)"
  else  # a failed build or a crash is no verdict on the checks
    echo "ERROR $what ($file): no case failed, but the build or the run did (see $BUILD.log): $(tail -1 "$BUILD.log" | cut -c1-150)"
  fi
done
