#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root with .gpu-carry/ (tools/gpu-check/pack.sh)
# beside it. In one pass, writing logs to build/gpu-check (and summary.txt plus a tarball of the logs to
# $OUT when the device tool sets it, which returns at most 8 files): the device and driver; the cuDNN
# library linked and the version loaded; attention alone (tests/bench/bench_attention.cpp: cuDNN's against ours
# per position scheme); every
# CPU-vs-CUDA parity test (the transformer's over three training steps included); 3 training steps with
# asynchronous input against --sync-input (bit for bit); compute-sanitizer memcheck
# and racecheck on the parity binaries; `weft bench` of the GPT-2-124M shape (T = 1024) in fp32 and bf16
# and with each position scheme (ALiBi/Sandwich against plain causal attention), MoEUT-44M against its
# dense baseline (cluster/configs/moeut_44m.ini, dense_44m.ini), a 2-GPU NCCL data-parallel equality run where
# the machine has two GPUs and mpirun, next to PyTorch when
# the machine has a CUDA PyTorch. Record the results in docs/gpu-validation.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=build/gpu-check
mkdir -p "$out"
carry=/tmp/weft-gpu-carry  # unpacked from .gpu-carry/payload.tar.xz (tools/gpu-check/pack.sh)
rm -rf "$carry" && mkdir -p "$carry" && tar -C "$carry" -xJf .gpu-carry/payload.tar.xz || { echo "no .gpu-carry/payload.tar.xz"; exit 2; }
nccl_dir=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) + "/lib")' 2>/dev/null || true)
export LD_LIBRARY_PATH="$carry/lib:/usr/local/cuda/lib64:${nccl_dir}:${LD_LIBRARY_PATH:-}"
summary="$out/summary.txt"
: > "$summary"
# Each line also lands in $OUT at once: a pass cut short by the device call's time limit still returns its summary.
note() {
  echo "$*" | tee -a "$summary"
  if [ -n "${OUT:-}" ]; then cp "$summary" "$OUT/summary.txt"; fi
}

nvidia-smi > "$out/nvidia-smi.txt" 2>&1
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "$gpus" -gt 0 ]; then
  note "device: $(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -1) ($gpus GPU(s))"
else
  note "device: no GPU (nvidia-smi: $(command -v nvidia-smi || echo absent)); every GPU step reports SKIPPED"
fi
# A step that needs a GPU: on a machine without one, one SKIPPED line for it instead.
gpu_step() {
  if [ "$gpus" -gt 0 ]; then return 0; fi
  note "$1: SKIPPED (no GPU)"
  return 1
}
note "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
missing=$(ldd "$carry/bin/weft" | grep 'not found' || true)
[ -n "$missing" ] && note "missing libraries: $missing"
# cuDNN (cmake/cudnn.cmake): which library weft resolves here; the version loaded is on weft bench's device line.
note "cuDNN library: $( (ldd "$carry/bin/weft"; ldd "$carry"/lib/libweft_runtime.so* 2>/dev/null) | awk '/libcudnn/ && !seen {print $1 " => " $3; seen = 1}' | grep . || echo 'not linked (built without cuDNN)')"

for t in "$carry"/bin/test_parity_*; do
  name=$(basename "$t")
  timeout 120 "$t" --gtest_brief=1 > "$out/$name.log" 2>&1
  rc=$?
  note "$name: rc=$rc $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$name.log" | tr '\n' ' ')"
done

# cuDNN's attention and norms are in the build when the slope test (it needs no GPU) ran rather than skipped.
if "$carry/bin/test_parity_attention" --gtest_filter='*CudnnAlibiSlopes*' 2>&1 | grep -q '^\[       OK \]'; then
  note "cuDNN attention and norms: built (--attention-backend auto prefers cuDNN's attention for bf16)"
else
  note "cuDNN attention and norms: not built (no cudnn-frontend at build time: tools/install-cudnn-frontend.sh)"
fi

# Attention at head sizes the kernels zero-pad to a tile width of 32/64/96/128 (1 to 8, 24, 40, 41,
# 82 = MoEUT-44M's, 100; windows with ALiBi and the Sandwich table at 82, 40, 24; emulator-checked only until
# this runs), on their own line so a failure there is not lost in the attention binary's totals.
if [ -x "$carry/bin/test_parity_attention" ]; then
  timeout 120 "$carry/bin/test_parity_attention" --gtest_brief=0 \
    --gtest_filter='ParityAttention.OddHeadSizeCases:ParityAttention.SmallCases:ParityAttention.WindowCases' \
    > "$out/attention_padded_heads.log" 2>&1
  rc=$?
  note "attention padded head sizes (parity f32+bf16): rc=$rc $(grep -E '^\[ +(OK|FAILED|SKIPPED) +\] ParityAttention' "$out/attention_padded_heads.log" | sed -E 's/^\[ +([A-Z]+) +\] ParityAttention\.([A-Za-z]+).*/\2 \1/' | awk '!seen[$0]++' | tr '\n' ' ')"
fi

# Asynchronous input (runtime/input_stager.h): 3 CUDA training steps of 4 micro-batches with the pinned,
# double-buffered side-stream copies must log the same losses and gradient norms, to the last digit, as
# with synchronous copies (--sync-input).
stage=$out/input_stager
rm -rf "$stage" && mkdir -p "$stage"
if ! gpu_step "input stager"; then
  :
elif timeout 60 "$carry/bin/weft" prepare --builtin stories --out "$stage/data" --tokens 200000 > "$stage/prepare.log" 2>&1; then
  for mode in async sync; do
    extra=(); [ "$mode" = sync ] && extra=(--sync-input)
    timeout 60 "$carry/bin/weft" train --device cuda --data "$stage/data" --out "$stage/$mode" --d-model 256 \
      --n-layers 4 --n-heads 4 --seq-len 256 --batch-size 8 --grad-accum 4 --steps 3 --eval-every 0 \
      --eval-batches 0 --log-every 1 --seed 5 "${extra[@]}" > "$stage/$mode.log" 2>&1
  done
  strip_times() { sed -E 's/, "tokens_per_s".*//' "$1" 2>/dev/null; }
  if [ -s "$stage/async/metrics.jsonl" ] && [ "$(strip_times "$stage/async/metrics.jsonl")" = "$(strip_times "$stage/sync/metrics.jsonl")" ]; then
    note "input stager: 3 steps x 4 micro-batches async == --sync-input (losses, grad norms bit for bit)"
  else
    note "input stager: FAILED async vs --sync-input differ or did not run (see $stage/*.log)"
  fi
else
  note "input stager: skipped (weft prepare failed, see $stage/prepare.log)"
fi

# Attention alone at the GPT-2 shape (tests/bench/bench_attention.cpp): ours against cuDNN's, causal, ALiBi,
# Sandwich, RoPE (issue 17's target: ALiBi and Sandwich within 10% of plain causal).
if [ -x "$carry/bin/bench_attention" ]; then
  timeout 90 "$carry/bin/bench_attention" 16 1024 12 64 20 > "$out/bench_attention.log" 2>&1
  note "bench_attention (rc=$?):"
  sed 's/^/  /' "$out/bench_attention.log" | tee -a "$summary"
fi
# LayerNorm / RMSNorm alone at the GPT-2 step's rows, ours against cuDNN's (tests/bench/bench_norm.cpp): the
# measurement that decides --norm-backend auto.
if [ -x "$carry/bin/bench_norm" ]; then
  timeout 60 "$carry/bin/bench_norm" 16384 768 50 > "$out/bench_norm.log" 2>&1
  note "bench_norm (rc=$?):"
  sed 's/^/  /' "$out/bench_norm.log" | tee -a "$summary"
fi

# NCCL data parallelism needs two GPUs (NCCL refuses two ranks on one) and mpirun: 2 ranks x batch 8 against one
# rank with 2 micro-batches of 8, same seed and data; the logged losses must agree to 5 digits (the all-reduce
# sums in another order than the micro-batch fold).
if ! gpu_step "NCCL data parallel"; then
  :
elif [ "$gpus" -ge 2 ] && command -v mpirun > /dev/null && [ -s "$stage/data/train.bin" ]; then
  dp=(train --device cuda --dtype bf16 --data "$stage/data" --d-model 256 --n-layers 4 --n-heads 4 --seq-len 256
      --batch-size 8 --steps 3 --eval-every 0 --eval-batches 0 --log-every 1 --seed 5)
  timeout 90 mpirun --allow-run-as-root -n 2 "$carry/bin/weft" "${dp[@]}" --out "$stage/dp2" > "$stage/dp2.log" 2>&1
  timeout 90 "$carry/bin/weft" "${dp[@]}" --grad-accum 2 --out "$stage/dp1" > "$stage/dp1.log" 2>&1
  losses() { grep -o '"loss": [0-9.e+-]*' "$1" 2>/dev/null | awk '{printf "%.5g ", $2}'; }
  if [ -n "$(losses "$stage/dp2/metrics.jsonl")" ] && [ "$(losses "$stage/dp2/metrics.jsonl")" = "$(losses "$stage/dp1/metrics.jsonl")" ]; then
    note "NCCL data parallel: 2 GPUs == 1 GPU x 2 micro-batches over 3 steps (losses $(losses "$stage/dp2/metrics.jsonl"))"
  else
    note "NCCL data parallel: FAILED 2 GPUs [$(losses "$stage/dp2/metrics.jsonl")] vs 1 GPU [$(losses "$stage/dp1/metrics.jsonl")] (see $stage/dp*.log)"
  fi
else
  note "NCCL data parallel: skipped ($gpus GPU(s), mpirun $(command -v mpirun > /dev/null && echo present || echo absent); needs 2 GPUs and mpirun)"
fi

if gpu_step "weft bench (GPT-2 fp32/bf16, positions, kernel backends, MoEUT-44M, PyTorch)"; then
  gpt2=(--vocab-size 50304 --d-model 768 --n-layers 12 --n-heads 12 --seq-len 1024 --batch-size 16 --steps 10 --warmup-steps 2)
  for dtype in bf16 fp32; do
    timeout 120 "$carry/bin/weft" bench --device cuda --dtype $dtype "${gpt2[@]}" --json "$out/bench.jsonl" \
      > "$out/bench_$dtype.log" 2>&1
    note "bench gpt2 $dtype: $(grep -E 'tokens/s|update|MFU|peak memory' "$out/bench_$dtype.log" | tr -s ' ' | tr '\n' ';')"
  done
  note "cuDNN loaded: $(grep -m1 -oE 'cuDNN [0-9]+\.[0-9]+\.[0-9]+|no cuDNN' "$out/bench_bf16.log" || echo 'unknown (bench did not run)')"

  # The whole step with our attention kernels only (the runs above use auto: cuDNN's where it takes the call).
  timeout 120 "$carry/bin/weft" bench --device cuda --dtype bf16 "${gpt2[@]}" --attention-backend weft \
    --json "$out/bench.jsonl" > "$out/bench_bf16_weft_attention.log" 2>&1
  note "bench gpt2 bf16 --attention-backend weft: $(grep -E 'tokens/s|MFU' "$out/bench_bf16_weft_attention.log" | tr -s ' ' | tr '\n' ';')"
  # cuDNN's LayerNorm (forward and backward) in place of ours: --norm-backend auto keeps ours until this is faster.
  timeout 120 "$carry/bin/weft" bench --device cuda --dtype bf16 "${gpt2[@]}" --norm-backend cudnn \
    --json "$out/bench.jsonl" > "$out/bench_bf16_cudnn_norm.log" 2>&1
  note "bench gpt2 bf16 --norm-backend cudnn: $(grep -E 'tokens/s|MFU' "$out/bench_bf16_cudnn_norm.log" | tr -s ' ' | tr '\n' ';')"

  for pos in alibi sandwich rope; do
    timeout 120 "$carry/bin/weft" bench --device cuda --dtype bf16 "${gpt2[@]}" --position $pos \
      --json "$out/bench.jsonl" > "$out/bench_$pos.log" 2>&1
    note "bench gpt2 bf16 $pos: $(grep -E 'tokens/s' "$out/bench_$pos.log" | tr -s ' ')"
  done
  # MoEUT-44M against its dense baseline (issue 13: the spec's MACs ratio 0.88 at T = 1024; does the step follow?),
  # model flags from the presets (the [model] sections), synthetic tokens.
  for preset in moeut_44m dense_44m; do
    flags=$(sed -n '/^\[model\]/,/^\[/p' "cluster/configs/$preset.ini" | grep ' = ' | sed 's/^\([a-z-]*\) = \(.*\)/--\1=\2/')
    # shellcheck disable=SC2086
    timeout 180 "$carry/bin/weft" bench --device cuda --dtype bf16 $flags --batch-size 8 --steps 6 --warmup-steps 2 \
      --json "$out/bench.jsonl" > "$out/bench_$preset.log" 2>&1
    note "bench $preset bf16: $(grep -E 'tokens/s|MACs|peak memory' "$out/bench_$preset.log" | tr -s ' ' | tr '\n' ';')"
  done
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    for dtype in bf16 fp32; do
      note "torch gpt2 $dtype: $(timeout 120 python3 tools/reference/torch_train_bench.py --device cuda --dtype $dtype \
        --vocab 50304 --d-model 768 --n-layers 12 --n-heads 12 --seq-len 1024 --batch-size 16 --steps 10 2>&1 | tail -1)"
    done
  fi
fi

# compute-sanitizer last, inside the device call's 10-minute limit: racecheck (shared-memory hazards) on
# attention, then memcheck on every parity binary there is (a glob, so renamed or new families are never
# missed; the transformer's, a whole model over training steps, last); each run capped, skipped past 450 s.
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
runs=()
[ -x "$carry/bin/test_parity_attention" ] && runs+=("racecheck test_parity_attention")
for t in "$carry"/bin/test_parity_*; do
  name=$(basename "$t")
  [ "$name" = test_parity_transformer ] || runs+=("memcheck $name")
done
[ -x "$carry/bin/test_parity_transformer" ] && runs+=("memcheck test_parity_transformer")
gpu_step "compute-sanitizer memcheck and racecheck" || runs=()
for run in "${runs[@]}"; do
  set -- $run
  tool=$1 t=$2
  if [ "$SECONDS" -gt 450 ]; then note "compute-sanitizer $tool $t: skipped (time)"; continue; fi
  timeout 60 "$sanitizer" --tool "$tool" --error-exitcode 9 "$carry/bin/$t" --gtest_brief=1 \
    > "$out/sanitizer_${tool}_$t.log" 2>&1
  note "compute-sanitizer $tool $t: rc=$? $(grep -m1 'ERROR SUMMARY' "$out/sanitizer_${tool}_$t.log")"
done

if [ -n "${OUT:-}" ]; then
  cp "$summary" "$OUT/summary.txt"
  cp "$out/bench.jsonl" "$OUT/" 2>/dev/null || true
  tar czf "$OUT/gpu-check-logs.tgz" -C "$out" .
fi
