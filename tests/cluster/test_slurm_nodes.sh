#!/usr/bin/env bash
# Slurm across two namespace nodes (CTest labels multinode, slurm): tests/cluster/netns_nodes.sh makes 2
# nodes; slurmctld and one slurmd run on node 0, a second slurmd on node 1, each slurmd with its node's
# hostname, address and its own PMIx temporary folder (both nodes share /tmp: the same job's
# spmix_appdir would collide). A 2-node job through cluster/slurm/weft.sbatch (`srun --mpi=pmix`, one task
# per node, TCP between the nodes) runs uninterrupted; a second gets the preemption notice, saves, requeues
# itself, resumes and must reproduce the uninterrupted losses bit for bit. The launch report must place rank 0
# on node 0 and rank 1 on node 1. A third job has rank 1 killed mid-run and must end within 150 s, not hang
# (weft.sbatch's srun --wait). Exit 77 (skipped) without root, namespaces or slurm-wlm/munge.
# slurmd runs under nsenter --net (not `ip netns exec`, which remounts /sys without /sys/fs/cgroup, and
# slurmd 22.05 will not start without its cgroup plugin).
# Usage: tests/cluster/test_slurm_nodes.sh WEFT_BINARY
set -euo pipefail
weft=$(readlink -f "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/slurm/preempt.sh"
nodes_sh=$repo/tests/cluster/netns_nodes.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the private Slurm needs root"; exit 77; }
for c in slurmctld slurmd munged sbatch scontrol scancel nsenter; do
  command -v "$c" >/dev/null || { echo "SKIP: $c not installed (Debian: slurm-wlm munge)"; exit 77; }
done
work=$(mktemp -d /tmp/weft-slurm-nodes.XXXXXX)
dir=$work/slurm
mkdir -p "$dir/state" "$dir/munge" "$dir/nodetmp"
cleanup() {
  "$nodes_sh" down "$work/nodes" || true  # every process on the nodes: slurmctld, slurmd, steps, ranks
  "$repo/tests/slurm/private_slurm.sh" stop "$dir"  # munged, waiting until it has written its seed and gone
  rm -rf "$work"
}
trap cleanup EXIT
rc=0
WEFT_NETNS_OWNER=$$ "$nodes_sh" up "$work/nodes" 2 10.79.0 >/dev/null || rc=$?
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || { echo "FAIL: netns_nodes.sh up"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$work/nodes/state")
n0=${prefix}n0 n1=${prefix}n1

dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$dir/munge"
chmod 400 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" --force
cat >"$dir/slurm.conf" <<CONF
ClusterName=weftnodes
SlurmctldHost=$n0(10.79.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
TmpFS=$dir/nodetmp
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=30
NodeName=$n0 NodeAddr=10.79.0.1 CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
NodeName=$n1 NodeAddr=10.79.0.2 CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
echo "PMIxCliTmpDirBase=$dir/nodetmp" >"$dir/mpi.conf"  # per node: a private mount over it (below)
export SLURM_CONF=$dir/slurm.conf
"$nodes_sh" exec "$work/nodes" 0 slurmctld -c -f "$SLURM_CONF"
for i in 0 1; do
  mkdir -p "$dir/tmp-n$i"
  nsenter --net=/run/netns/${prefix}n$i unshare --uts --mount -- /bin/sh -c \
    "mount --bind $dir/tmp-n$i $dir/nodetmp && hostname ${prefix}n$i && exec slurmd -f $SLURM_CONF"
done
on0() { ip netns exec "$n0" "$@"; }  # the client commands reach slurmctld from node 0
for _ in $(seq 60); do
  [ "$(on0 sinfo -h -N -o %t 2>/dev/null | grep -c idle)" -eq 2 ] && break
  sleep 0.5
done
[ "$(on0 sinfo -h -N -o %t | grep -c idle)" -eq 2 ] || { echo "FAIL: two idle nodes expected"; on0 sinfo; tail "$dir"/*.log; exit 1; }

cd "$work"
mkdir -p runs
"$weft" prepare --builtin stories --out data --tokens 200000 >/dev/null
steps=1000  # about a second of training on a fast machine: long enough for preempt_job to pause it mid-run
flags=(--data data --d-model 32 --n-layers 2 --n-heads 2 --seq-len 32 --batch-size 4 --steps $steps --decay-steps $steps
       --warmup 10 --eval-every 0 --eval-batches 0 --log-every 1 --save-every 250 --seed 11)
submit() {  # RUN_DIR -> job id
  on0 sbatch --parsable --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 \
    --export=ALL,RUN_DIR="$1",WEFT="$weft",OMPI_MCA_btl_tcp_if_include=10.79.0.0/24 \
    "$repo/cluster/slurm/weft.sbatch" "${flags[@]}"
}
state() { on0 scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
wait_ended() {  # job id, seconds: until the job is in a final state; 1 if it is not by then
  for _ in $(seq "$2"); do
    case "$(state "$1")" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) return 0 ;; esac
    sleep 1
  done
  return 1
}
wait_done() { wait_ended "$1" "$2" && [ "$(state "$1")" = COMPLETED ]; }  # job id, seconds

ref=$(submit "$work/ref")
wait_done "$ref" 300 || { echo "FAIL: reference job $ref: $(state "$ref")"; cat runs/slurm-"$ref".out; tail "$dir"/slurmd-*.log; exit 1; }
grep -q "ranks by node (rank/local rank): $n0 0/0; $n1 1/0" runs/slurm-"$ref".out ||
  { echo "FAIL: the launch report does not place one rank on each node"; cat runs/slurm-"$ref".out; exit 1; }

job=$(submit "$work/pre")
preempt_job "$work/pre" 5 on0 scancel --batch --signal=USR1 "$job" || { cat runs/slurm-"$job".out; exit 1; }
wait_done "$job" 400 || { echo "FAIL: preempted job $job: $(state "$job")"; cat runs/slurm-"$job".out; exit 1; }
restarts=$(on0 scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
grep -q "checkpoint saved after the preemption notice" runs/slurm-"$job".out || { echo "FAIL: no preemption save"; cat runs/slurm-"$job".out; exit 1; }
[ "${restarts:-0}" -ge 1 ] || { echo "FAIL: job $job was not requeued"; exit 1; }
resumed=$(sed -n 's/.*resumed from .* at step \([0-9]*\).*/\1/p' runs/slurm-"$job".out | head -1)
[ -n "$resumed" ] || { echo "FAIL: the requeued job did not resume"; cat runs/slurm-"$job".out; exit 1; }
same_losses_after "$work/ref" "$work/pre" "$resumed" "$steps" || { echo "FAIL: the resumed loss curve differs"; exit 1; }
echo "2-node job $job ($n0, $n1) preempted, requeued ($restarts restart), resumed at step $resumed; losses at steps $((resumed + 1))..$steps equal the uninterrupted run bit for bit"

# A rank killed without a word (SIGKILL: the OOM killer, a segfault) while the other waits in a collective. Slurm
# keeps a step running when one task dies, and Open MPI over TCP does not notice a dead peer, so the survivor would
# wait for --collective-timeout (600 s) before aborting; weft.sbatch's `srun --wait=60` ends the step 60 s after
# the first task ends. Both ranks are paused first so the short run cannot finish before the kill.
job=$(submit "$work/crash")
wait_for_ranks "$work/crash" 5 2 || { echo "FAIL: job $job: two running ranks expected"; cat runs/slurm-"$job".out; exit 1; }
kill -STOP "${ranks[@]}"
victim=${ranks[0]} survivor=${ranks[1]}
tr '\0' '\n' <"/proc/$victim/environ" | grep -qx SLURM_PROCID=1 || { victim=${ranks[1]} survivor=${ranks[0]}; }
kill -KILL "$victim"
kill -CONT "$survivor"
killed_at=$SECONDS
wait_ended "$job" 200 || true
ended=$(state "$job") waited=$((SECONDS - killed_at))
[ "$ended" = FAILED ] && [ "$waited" -le 150 ] ||
  { echo "FAIL: job $job after rank 1 was killed: $ended after ${waited} s (FAILED within 150 s expected)"; cat runs/slurm-"$job".out; exit 1; }
echo "PASS: the same job preempted and resumed bit for bit; job $job with rank 1 killed (SIGKILL) mid-run ended FAILED ${waited} s later"
