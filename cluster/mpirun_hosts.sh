#!/usr/bin/env bash
# Multi-node data parallel training with mpirun and a hostfile (one line per node: "node01 slots=8").
#   cluster/mpirun_hosts.sh hosts.txt 16 --data data/stories --out runs/a --config cluster/configs/small.ini
# WEFT: the binary (default build/cpu/weft). Open MPI settings come from OMPI_MCA_* variables, e.g. the remote
# launcher OMPI_MCA_plm_rsh_agent (tests/cluster/netns_nodes.sh points it at `ip netns exec` instead of ssh).
set -euo pipefail
hostfile=$1; ranks=$2; shift 2
exec mpirun --hostfile "$hostfile" -np "$ranks" --bind-to none -x OMP_NUM_THREADS -x HDF5_USE_FILE_LOCKING=FALSE \
  "${WEFT:-build/cpu/weft}" train --resume auto "$@"
