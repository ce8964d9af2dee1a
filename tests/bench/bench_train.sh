#!/usr/bin/env bash
# Training throughput of weft next to PyTorch eager on the same architecture and threads, in one sitting.
# Configs (issue 3): small  V=4096  d=256 L=4  H=4  T=256 B=8
#                    gpt2   V=50304 d=768 L=12 H=12 T=256 B=4   (124M parameters)
# Prints tokens/s, weft's share of the machine's measured sgemm peak (FLOPs = 6N + 6LTd per token; the peak is
# measured at the start and again right after weft's fp32 run of each config; the highest so far counts), and
# peak RSS, then whether issue 18's targets hold (share of peak; speed over the newest PyTorch with
# flush-denormal). Where the CPU has bf16 instructions (AMX / AVX512-BF16), also weft --dtype bf16 (GEMMs on
# bf16-rounded operands) next to the newest PyTorch under torch.autocast(bfloat16); their share is of the same
# f32 sgemm peak, so it can pass 100%. Set BF16=0 to skip those rows. PyTorch: Debian's /usr/bin/python3 (python3-torch 1.13) and, when present, the newest PyPI torch
# in $TORCH_VENV (default /tmp/torchenv). Every row times steady-state steps after $WARMUP (default 2)
# untimed ones: weft's second step is still a warm-up (its step arena is rebuilt as one block after the
# first step, and that block's pages are first touched then: ~1.4x a steady step at the GPT-2 shape), and
# PyTorch gets the same number. Usage: tests/bench/bench_train.sh [small|gpt2|all] [threads]
set -euo pipefail
cd "$(dirname "$0")/../.."
which_cfg=${1:-all}
threads=${2:-$(nproc)}
build=${BUILD:-build/cpu}
weft=$build/weft
venv=${TORCH_VENV:-/tmp/torchenv}
warmup=${WARMUP:-2}
[ -x "$weft" ] || { echo "build weft first: cmake --build $build"; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$weft prepare --builtin stories --out "$work/data" --tokens 1000000 >/dev/null

measure_peak() {
  "$build/tests/bench/bench_linear" "$threads" 1024 1024 1024 1 | sed -n 's/.*sgemm peak.*: \([0-9.]*\) GFLOP.*/\1/p'
}
peak=$(measure_peak)
echo "machine: $(nproc) cores, $threads threads, measured sgemm peak $peak GFLOP/s"

weft_run() {  # dtype; uses the caller's V d L H T B steps; sets weft_tps, weft_flops, weft_rss; 1 if refused
  local dtype=$1 out="$work/run_${name}_$1"
  if ! /usr/bin/time -f "%M" -o "$work/rss" $weft train --data "$work/data" --out "$out" --vocab-size "$V" \
      --d-model "$d" --n-layers "$L" --n-heads "$H" --seq-len "$T" --batch-size "$B" --steps $((steps + warmup)) \
      --warmup 0 --log-every 1 --eval-every 0 --eval-batches 0 --save-on-exit=false --threads "$threads" \
      --dtype "$dtype" > "$work/log" 2>&1; then
    echo "weft --dtype $dtype: not run here ($(grep -m1 -i 'error\|dtype' "$work/log"))"
    return 1
  fi
  weft_flops=$(sed -n 's/.* \([0-9.e+]*\) training FLOPs\/token.*/\1/p' "$work/log")
  weft_tps=$(tail -n "$steps" "$out/metrics.jsonl" | sed -n 's/.*"tokens_per_s": \([0-9.e+]*\).*/\1/p' |
             awk '{s += $1} END {printf "%.0f", s / NR}')
  weft_rss=$(( $(cat "$work/rss") / 1024 ))
}

weft_print() {  # dtype; the row of the last weft_run against $peak
  awk -v t="$weft_tps" -v f="$weft_flops" -v p="$peak" -v r="$weft_rss" -v dt="$1" 'BEGIN {
    printf "weft %-6s %8.0f tok/s  %5.1f%% of sgemm peak  peak RSS %d MB\n", dt == "fp32" ? "" : dt, t,
           100 * t * f / (p * 1e9), r }'
}

run_cfg() {  # name V d L H T B steps peak-target(%) torch-target(x)
  local name=$1 V=$2 d=$3 L=$4 H=$5 T=$6 B=$7 steps=$8 peak_target=$9 torch_target=${10}
  local newest_best=""
  echo "== $name: V=$V d=$d L=$L H=$H T=$T B=$B, $steps timed steps =="
  local out="$work/run_$name"
  weft_run fp32 || exit 1
  local tps=$weft_tps flops=$weft_flops
  # This VM's sgemm peak moves by several percent from minute to minute: measure it again right after weft's
  # run and hold every row of this config (and the targets) to the highest peak measured so far in the sitting.
  local again=$(measure_peak)
  peak=$(awk -v a="$peak" -v b="$again" 'BEGIN { print (b > a) ? b : a }')
  echo "sgemm peak measured again after weft's run: $again GFLOP/s; rows below use the sitting's highest, $peak"
  weft_print fp32
  # PyTorch's default, then (newest only) with FTZ/DAZ: denormals slow MKL's sgemm ~20x on Intel CPUs.
  for run in "/usr/bin/python3 0" "$venv/bin/python 0" "$venv/bin/python 1"; do
    local py=${run% *} fd=${run#* }
    [ -x "$py" ] || continue
    "$py" -c "import torch" 2>/dev/null || continue
    local j=$(OMP_NUM_THREADS=$threads "$py" tools/reference/torch_train_bench.py --vocab "$V" --d-model "$d" \
              --n-layers "$L" --n-heads "$H" --seq-len "$T" --batch-size "$B" --steps "$steps" --warmup "$warmup" \
              --threads "$threads" --flush-denormal "$fd" 2>/dev/null)
    [ "$py" != /usr/bin/python3 ] && newest_best=$(echo "$j" | sed -n 's/.*"tokens_per_s": \([0-9.e+]*\).*/\1/p')
    echo "$j" | awk -v f="$flops" -v p="$peak" -v fd="$fd" '{
      match($0, /"torch": "[^"]*"/); v = substr($0, RSTART + 10, RLENGTH - 11);
      match($0, /"tokens_per_s": [0-9.e+]*/); t = substr($0, RSTART + 16, RLENGTH - 16);
      match($0, /"peak_rss_mb": [0-9.e+]*/); r = substr($0, RSTART + 15, RLENGTH - 15);
      printf "torch %-6s%8.0f tok/s  %5.1f%% of sgemm peak  peak RSS %d MB%s\n", v, t, 100 * t * f / (p * 1e9), r,
             fd == 1 ? "  (set_flush_denormal)" : "" }'
  done
  if [[ ${BF16:-1} == 1 ]]; then  # bf16 GEMMs where the CPU has them, next to PyTorch's CPU autocast
    if weft_run bf16; then
      weft_print bf16
      for fd in 0 1; do
        [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import torch" 2>/dev/null || break
        OMP_NUM_THREADS=$threads "$venv/bin/python" tools/reference/torch_train_bench.py --vocab "$V" --d-model "$d" \
          --n-layers "$L" --n-heads "$H" --seq-len "$T" --batch-size "$B" --steps "$steps" --warmup "$warmup" \
          --threads "$threads" --flush-denormal "$fd" --dtype bf16 2>/dev/null | awk -v f="$weft_flops" -v p="$peak" -v fd="$fd" '{
          match($0, /"tokens_per_s": [0-9.e+]*/); t = substr($0, RSTART + 16, RLENGTH - 16);
          match($0, /"peak_rss_mb": [0-9.e+]*/); r = substr($0, RSTART + 15, RLENGTH - 15);
          printf "torch autocast bf16 %8.0f tok/s  %5.1f%% of sgemm peak  peak RSS %d MB%s\n", t, 100 * t * f / (p * 1e9), r,
                 fd == 1 ? "  (set_flush_denormal)" : "" }'
      done
    fi
  fi
  # Issue 18's targets for this config, against the newest PyTorch at its best (the flush-denormal run).
  awk -v t="$tps" -v f="$flops" -v p="$peak" -v pt="$peak_target" -v tt="$torch_target" -v nb="$newest_best" 'BEGIN {
    pct = 100 * t * f / (p * 1e9);
    printf "target: >= %d%% of sgemm peak: %s (%.1f%%)\n", pt, (pct >= pt) ? "met" : "NOT met", pct;
    if (nb == "") print "target: >= " tt "x the newest PyTorch: not measured (no torch in $TORCH_VENV)";
    else printf "target: >= %gx the newest PyTorch: %s (%.2fx)\n", tt, (t / nb >= tt) ? "met" : "NOT met", t / nb }'
}

[[ $which_cfg == small || $which_cfg == all ]] && run_cfg small 4096 256 4 4 256 8 6 70 2
[[ $which_cfg == gpt2 || $which_cfg == all ]] && run_cfg gpt2 50304 768 12 12 256 4 4 75 2.5
exit 0
