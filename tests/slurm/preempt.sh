# Sourced by the Slurm tests: deliver a preemption notice to a running weft job deterministically.
# A small run on a fast machine can finish its last step before a notice sent through scancel -> slurmctld ->
# slurmd -> batch shell -> srun reaches the ranks, and the test then sees no preemption save. So the ranks
# are paused (SIGSTOP) once the run has logged a few steps, the notice is sent, and they are resumed only
# when every rank holds USR1 pending: the save then happens at the next step boundary, whatever the speed.
# The pause itself comes from polling, so the tests run enough steps (1000: about a second of training even
# on a machine doing 300k tokens/s with another test beside it) that the poll cannot miss the loop.
# Usage: preempt_job RUN_DIR MIN_LOGGED_STEPS COMMAND_THAT_SENDS_THE_NOTICE...
# Returns 1 with a message when the run ends before it could be paused or the notice never arrives.
# Then same_losses_after REF_DIR PRE_DIR RESUMED_STEP LAST_STEP checks the resumed curve bit for bit.

# PIDs of the weft ranks writing RUN_DIR (the job step's processes on this machine); srun's own command line
# holds the same words after "srun ...", so the match is anchored on the weft binary at its start.
weft_ranks_of() { pgrep -f -- "^[^ ]*weft train --out $1 " || true; }

# True when every given process has SIGUSR1 (signal 10, bit 0x200) pending, process-wide or in a thread.
usr1_pending_in_all() {
  local pid mask
  for pid in "$@"; do
    mask=0
    for field in ShdPnd SigPnd; do
      mask=$((mask | 0x$(sed -n "s/^$field:[[:space:]]*//p" "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    [ $((mask & 0x200)) -ne 0 ] || return 1
  done
}

# Sets the caller's array `ranks` to the PIDs of RUN_DIR's weft ranks once its metrics hold MIN_STEPS lines and
# at least MIN_RANKS (default 1) ranks run; up to ~60 s for the job to start, 1 if it never does.
# Usage: wait_for_ranks RUN_DIR MIN_STEPS [MIN_RANKS]
wait_for_ranks() {
  local run_dir=$1 min_steps=$2 min_ranks=${3:-1}
  ranks=()
  for _ in $(seq 6000); do
    if [ -f "$run_dir/metrics.jsonl" ] && [ "$(wc -l <"$run_dir/metrics.jsonl")" -ge "$min_steps" ]; then
      mapfile -t ranks < <(weft_ranks_of "$run_dir")
      [ "${#ranks[@]}" -ge "$min_ranks" ] && return 0
    fi
    sleep 0.01
  done
  return 1
}

preempt_job() {
  local run_dir=$1 min_steps=$2
  shift 2
  local ranks=()
  wait_for_ranks "$run_dir" "$min_steps" || { echo "preempt_job: no running weft rank for $run_dir after 60 s"; return 1; }
  kill -STOP "${ranks[@]}"
  echo "preempt_job: ranks ${ranks[*]} paused after $(wc -l <"$run_dir/metrics.jsonl") logged steps"
  "$@"  # the notice
  local delivered=0
  for _ in $(seq 300); do  # up to 30 s for Slurm to carry it to every rank
    usr1_pending_in_all "${ranks[@]}" && { delivered=1; break; }
    sleep 0.1
  done
  kill -CONT "${ranks[@]}"
  [ "$delivered" -eq 1 ] || { echo "preempt_job: USR1 did not reach ranks ${ranks[*]} within 30 s"; return 1; }
}

# True when every step RESUMED+1 .. LAST has the same loss string in REF_DIR's and PRE_DIR's metrics.jsonl (the
# preempted run's requeued pass wins where it logged a step twice); else prints each differing step.
same_losses_after() {
  local losses='s/.*"step": \([0-9]*\), "loss": \([^,]*\),.*/\1 \2/p'
  awk -v from=$(($3 + 1)) -v to="$4" '
    FNR == NR { ref[$1] = $2; next }
    { pre[$1] = $2 }
    END { bad = 0; for (s = from; s <= to; ++s) if (!(s in ref) || ref[s] != pre[s]) {
            printf "step %d: uninterrupted %s, preempted+requeued %s\n", s, ref[s], pre[s]; bad = 1 }
          exit bad }' <(sed -n "$losses" "$1/metrics.jsonl") <(sed -n "$losses" "$2/metrics.jsonl")
}
