#!/usr/bin/env bash
# Scaling on a shaped fabric (issue 19): 2 network-namespace nodes x 1 rank (tests/cluster/netns_nodes.sh,
# TCP over a veth + bridge, tc tbf per link) against 2 ranks on one node (shared memory), for `weft bench`
# with bucketed overlap on (--bucket-mb 1), off (one bucket: --bucket-mb 4096) and ZeRO-1; next to it the
# measured MPI_Allreduce bandwidth of the gradient's size and the step the link rate predicts.
# Every "node" shares this machine's cores: compute is the same in both layouts, only the transport differs.
#   tests/bench/multinode_scaling.sh [small|small-comm|gpt2] [STEPS] [RATES...]    (root; WEFT=build/cpu/weft)
# small: cluster/configs/small.ini's shape at batch 2 x 256 per rank; small-comm: the same model at 1 x 32
# (compute comparable to the all-reduce); gpt2: GPT-2-124M's shape at 1 x 64.
#   tests/bench/multinode_scaling.sh small 5 1gbit 10gbit 25gbit
# Prints a Markdown table (docs/cluster.md has one).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
weft=$(readlink -f "${WEFT:-$repo/build/cpu/weft}")
config=${1:-small}
steps=${2:-5}
shift $(($# < 2 ? $# : 2))
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(1gbit 10gbit 25gbit)
case "$config" in
  small) model=(--vocab-size 4096 --d-model 256 --n-layers 4 --n-heads 4 --seq-len 256 --batch-size 2) ;;
  small-comm) model=(--vocab-size 4096 --d-model 256 --n-layers 4 --n-heads 4 --seq-len 32 --batch-size 1) ;;  # comm-bound
  gpt2) model=(--vocab-size 50304 --d-model 768 --n-layers 12 --n-heads 12 --seq-len 64 --batch-size 1) ;;
  *) echo "usage: $0 [small|small-comm|gpt2] [STEPS] [RATES...]" >&2; exit 2 ;;
esac
command -v mpicc >/dev/null || { echo "mpicc not found" >&2; exit 1; }
work=$(mktemp -d /tmp/weft-scaling.XXXXXX)
nodes=$work/nodes
cleanup() { "$repo/tests/cluster/netns_nodes.sh" down "$nodes" || true; rm -rf "$work"; }
trap cleanup EXIT
WEFT_NETNS_OWNER=$$ "$repo/tests/cluster/netns_nodes.sh" up "$nodes" 2 10.78.0 1 >/dev/null

# MPI_Allreduce of BYTES (f32 sum), 2 warm-up + REPS timed: seconds per call (slowest rank).
cat >"$work/allreduce.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  long n = atol(argv[1]) / 4; int reps = atoi(argv[2]);
  float* x = calloc(n, sizeof(float));
  for (int i = 0; i < 2; ++i) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  double t = MPI_Wtime();
  for (int i = 0; i < reps; ++i) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  t = (MPI_Wtime() - t) / reps;
  double worst; MPI_Reduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) printf("%.6f\n", worst);
  free(x); MPI_Finalize(); return 0;
}
EOF
mpicc -O2 -o "$work/allreduce" "$work/allreduce.c"

root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
bench_flags=("${model[@]}" --warmup-steps 1 --threads 1)
field() { sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | tail -1; }
one_node() {  # ARGS -> tokens/s, 2 ranks on this machine's own namespace (shared memory)
  rm -f "$work/b.jsonl"
  mpirun "${root[@]}" -np 2 --oversubscribe --bind-to none "$weft" bench "${bench_flags[@]}" --steps "$steps" "$@" --json "$work/b.jsonl" >/dev/null
  field tokens_per_s "$work/b.jsonl"
}
two_nodes() {  # ARGS -> tokens/s, 1 rank on each namespace node (TCP over the shaped link)
  rm -f "$work/b.jsonl"
  "$repo/tests/cluster/netns_nodes.sh" mpiexec "$nodes" -np 2 --map-by node "$weft" bench "${bench_flags[@]}" --steps "$steps" "$@" \
    --json "$work/b.jsonl" >/dev/null
  field tokens_per_s "$work/b.jsonl"
}
allreduce() {  # BYTES -> seconds per all-reduce between the 2 nodes
  "$repo/tests/cluster/netns_nodes.sh" mpiexec "$nodes" -np 2 --map-by node "$work/allreduce" "$1" 5 | tail -1
}

# The gradient all-reduced per step: every parameter, f32.
rm -f "$work/b.jsonl"
"$weft" bench "${bench_flags[@]}" --steps 1 --json "$work/b.jsonl" >/dev/null
params=$(field parameters "$work/b.jsonl")
bytes=$((params * 4))
tokens_per_step=$(($(field batch_size "$work/b.jsonl") * $(field seq_len "$work/b.jsonl") * 2))
modes=("overlap:--bucket-mb 1" "no overlap:--bucket-mb 4096" "ZeRO-1:--zero 1")
echo "config $config: $params parameters, all-reduce $((bytes / 1000000)) MB/step, $tokens_per_step tokens/step (2 ranks), $steps steps, $(nproc) cores shared by all nodes"
declare -A base
for m in "${modes[@]}"; do
  # shellcheck disable=SC2086
  base[$m]=$(one_node ${m#*:})
done
printf '| link | all-reduce measured | GB/s | link-rate prediction | mode | 1 node tok/s | 2 nodes tok/s | 2 vs 1 | predicted 2 nodes tok/s (no overlap) |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for rate in unshaped "${rates[@]}"; do
  if [ "$rate" = unshaped ]; then "$repo/tests/cluster/netns_nodes.sh" shape "$nodes" off; else "$repo/tests/cluster/netns_nodes.sh" shape "$nodes" "$rate"; fi
  t=$(allreduce "$bytes")
  gbps=$(awk -v b="$bytes" -v t="$t" 'BEGIN { printf "%.2f", b / t / 1e9 }')
  # 2 ranks, ring or recursive doubling: each rank sends and receives the whole gradient once per all-reduce.
  case "$rate" in
    unshaped) predicted=- ; link_bytes_s=0 ;;
    *gbit) link_bytes_s=$(awk -v r="${rate%gbit}" 'BEGIN { print r * 1e9 / 8 }'); predicted=$(awk -v b="$bytes" -v r="$link_bytes_s" 'BEGIN { printf "%.1f ms", b / r * 1e3 }') ;;
    *) link_bytes_s=0; predicted=- ;;
  esac
  for m in "${modes[@]}"; do
    # shellcheck disable=SC2086
    two=$(two_nodes ${m#*:})
    one=${base[$m]}
    ratio=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
    # No overlap: step = the 1-node step + the all-reduce at the link rate.
    pred=$(awk -v one="$one" -v tok="$tokens_per_step" -v b="$bytes" -v r="$link_bytes_s" \
      'BEGIN { if (r == 0) { print "-"; exit } printf "%.0f", tok / (tok / one + b / r) }')
    printf '| %s | %.1f ms | %s | %s | %s | %.0f | %.0f | %s | %s |\n' "$rate" "$(awk -v t="$t" 'BEGIN { print t * 1e3 }')" \
      "$gbps" "$predicted" "${m%%:*}" "$one" "$two" "$ratio" "$pred"
  done
done
