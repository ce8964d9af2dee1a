#!/usr/bin/env bash
# Slurm end to end (CTest label `slurm`): a private single-node Slurm runs cluster/slurm/weft.sbatch with
# 2 tasks through `srun --mpi=pmix`; one job runs uninterrupted, another gets the preemption notice (USR1
# to the batch shell, as --signal=B:USR1 would send), saves, requeues itself, resumes and finishes. The
# resumed losses must equal the uninterrupted run's bit for bit. Exit 77 (skipped) when not root or when
# slurm-wlm/munge are missing. Every daemon it started is stopped by pid.
# Usage: tests/slurm/test_slurm.sh WEFT_BINARY
set -euo pipefail
weft=$(readlink -f "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/slurm/preempt.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the private Slurm needs root"; exit 77; }
for c in slurmctld slurmd munged sbatch srun scontrol; do
  command -v "$c" >/dev/null || { echo "SKIP: $c not installed (Debian: slurm-wlm munge)"; exit 77; }
done
slurm_dir=$("$repo/tests/slurm/private_slurm.sh") || { echo "FAIL: private Slurm did not start"; exit 1; }
work=$(mktemp -d /tmp/weft-slurm-test.XXXXXX)
cleanup() { "$repo/tests/slurm/private_slurm.sh" stop "$slurm_dir"; rm -rf "$work" "$slurm_dir"; }
trap cleanup EXIT
export SLURM_CONF=$slurm_dir/slurm.conf
cd "$work"
mkdir -p runs
"$weft" prepare --builtin stories --out data --tokens 200000 >/dev/null
steps=1000  # about a second of training on a fast machine: long enough for preempt_job to pause it mid-run
flags=(--data data --d-model 32 --n-layers 2 --n-heads 2 --seq-len 32 --batch-size 4 --steps $steps --decay-steps $steps
       --warmup 10 --eval-every 0 --eval-batches 0 --log-every 1 --save-every 250 --seed 11)

submit() {  # RUN_DIR -> job id
  sbatch --parsable --ntasks=2 --cpus-per-task=1 --export=ALL,RUN_DIR="$1",WEFT="$weft" \
    "$repo/cluster/slurm/weft.sbatch" "${flags[@]}"
}
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
wait_done() {  # job id, seconds
  for _ in $(seq "$2"); do
    case "$(state "$1")" in COMPLETED) return 0 ;; FAILED|CANCELLED|TIMEOUT|NODE_FAIL) return 1 ;; esac
    sleep 1
  done
  return 1
}

ref=$(submit "$work/ref")
wait_done "$ref" 300 || { echo "FAIL: reference job $ref: $(state "$ref")"; cat runs/slurm-"$ref".out; exit 1; }

job=$(submit "$work/pre")
preempt_job "$work/pre" 5 scancel --batch --signal=USR1 "$job" || { cat runs/slurm-"$job".out; exit 1; }
wait_done "$job" 400 || { echo "FAIL: preempted job $job: $(state "$job")"; cat runs/slurm-"$job".out; exit 1; }
restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
grep -q "checkpoint saved after the preemption notice" runs/slurm-"$job".out || { echo "FAIL: no preemption save"; cat runs/slurm-"$job".out; exit 1; }
[ "${restarts:-0}" -ge 1 ] || { echo "FAIL: job $job was not requeued"; exit 1; }
resumed=$(sed -n 's/.*resumed from .* at step \([0-9]*\).*/\1/p' runs/slurm-"$job".out | head -1)
[ -n "$resumed" ] || { echo "FAIL: the requeued job did not resume"; cat runs/slurm-"$job".out; exit 1; }
same_losses_after "$work/ref" "$work/pre" "$resumed" "$steps" || { echo "FAIL: the resumed loss curve differs"; exit 1; }
echo "PASS: job $job preempted, requeued ($restarts restart), resumed at step $resumed; losses at steps $((resumed + 1))..$steps equal the uninterrupted run bit for bit"
