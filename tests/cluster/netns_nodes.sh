#!/usr/bin/env bash
# Multi-node without a cluster: N network-namespace "nodes" joined by a bridge, for real multi-node mpirun.
# Each node is a namespace PREFIXn<i> (PREFIX = weft<pid of `up`>) with its own hostname (a UTS namespace per
# command) and two networks, each a veth into a bridge in a fabric namespace PREFIXf: the data network
# (eth0 = SUBNET.<i+1>/24, peer n<i> on br0) carries MPI's TCP traffic, the management network (mgmt0 =
# MGMT.<i+1>/24, MGMT = SUBNET with 128 added to its third number, peer m<i> on br1) carries Open MPI's
# out-of-band traffic (launch, I/O forwarding, job control), as on clusters with a separate service network.
# Nothing is added to the host's own namespace. Open MPI's remote launcher is `agent.sh HOST CMD`, which runs
# CMD in HOST's namespace instead of over ssh; MPI's TCP traffic is restricted to the data subnet
# (btl_tcp_if_include) and out-of-band traffic to the management subnet (oob_tcp_if_include; Open MPI 4 names,
# set as OMPI_MCA_* in the environment). mpirun itself runs on node 0, through cluster/mpirun_hosts.sh.
#   netns_nodes.sh up DIR N [SUBNET] [SLOTS]  create the nodes; DIR gets state, hostfile, agent.sh. A guard
#                                             process removes everything when the calling process ($PPID, or
#                                             WEFT_NETNS_OWNER) dies, so a killed test cleans up too.
#   netns_nodes.sh mpirun DIR RANKS ARGS...   cluster/mpirun_hosts.sh DIR/hostfile RANKS ARGS... on node 0
#                                             (WEFT: the binary; WEFT_BTL: btl list, default vader,tcp,self)
#   netns_nodes.sh mpiexec DIR ARGS...        mpirun --hostfile DIR/hostfile ARGS... on node 0 (any program)
#   netns_nodes.sh exec DIR I CMD...          CMD on node I (its namespace and hostname)
#   netns_nodes.sh kill DIR I                 SIGKILL every process on node I (by pid: `ip netns pids`)
#   netns_nodes.sh link DIR I up|down [NET]   node I's link on NET: data (default), mgmt or both (its veth end
#                                             on the bridge): data down = MPI traffic cut, the launcher still talks
#   netns_nodes.sh shape DIR RATE             tc tbf RATE (e.g. 10gbit) on both ends of every data link; "off"
#                                             removes it (the management network stays unshaped)
#   netns_nodes.sh down DIR                   kill the nodes' processes, delete the namespaces, remove DIR
#   netns_nodes.sh with N CMD...              up in a temporary DIR (exported as WEFT_NETNS), CMD, down (trap)
# Exit 77 (skipped) from `up`/`with` where namespaces cannot be created (not root, no `ip`, no netns support).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
self="$here/netns_nodes.sh"

die() { echo "netns_nodes.sh: $*" >&2; exit 1; }
load() {  # DIR -> prefix, nodes, subnet, mgmt, guard_pid
  [ -f "$1/state" ] || die "$1/state missing (not made by 'up')"
  # shellcheck disable=SC1091
  source "$1/state"
}
ns_of() { echo "${prefix}n$1"; }

# Every pid in the namespace, killed by pid (SIGKILL: a node that dies).
kill_node_processes() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
}

cmd_down() {
  local dir=$1
  [ -f "$dir/state" ] || return 0
  load "$dir"
  if [ -n "${guard_pid:-}" ] && [ "$guard_pid" != "${WEFT_NETNS_GUARD:-}" ]; then kill "$guard_pid" 2>/dev/null || true; fi
  local i
  for ((i = 0; i < nodes; i++)); do kill_node_processes "$(ns_of "$i")"; done
  kill_node_processes "${prefix}f"
  sleep 0.2
  for ((i = 0; i < nodes; i++)); do kill_node_processes "$(ns_of "$i")"; ip netns del "$(ns_of "$i")" 2>/dev/null || true; done
  ip netns del "${prefix}f" 2>/dev/null || true
  rm -rf "$dir"
}

cmd_up() {
  local dir=$1 n=$2 subnet=${3:-10.77.0} slots=${4:-2}
  [[ "$subnet" =~ ^([0-9]+\.[0-9]+)\.([0-9]+)$ ]] && [ "${BASH_REMATCH[2]}" -lt 128 ] ||
    die "SUBNET must be A.B.C with C below 128 (the management network is A.B.C+128), not '$subnet'"
  local mgmt="${BASH_REMATCH[1]}.$((BASH_REMATCH[2] + 128))"
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }
  command -v ip >/dev/null || { echo "SKIP: iproute2 'ip' not installed"; exit 77; }
  command -v unshare >/dev/null || { echo "SKIP: unshare not installed"; exit 77; }
  [ ! -e "$dir/state" ] || die "$dir already holds nodes (netns_nodes.sh down $dir first)"
  local p="weft$$"
  if ! ip netns add "${p}f" 2>/dev/null; then echo "SKIP: cannot create network namespaces (ip netns add)"; exit 77; fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  {
    echo "prefix=$p"
    echo "nodes=$n"
    echo "subnet=$subnet"
    echo "mgmt=$mgmt"
  } >"$dir/state"
  trap 'cmd_down "$dir"' ERR
  ip -n "${p}f" link set lo up
  ip -n "${p}f" link add br0 type bridge
  ip -n "${p}f" link set br0 up
  ip -n "${p}f" link add br1 type bridge
  ip -n "${p}f" link set br1 up
  : >"$dir/hostfile"
  local i ns
  for ((i = 0; i < n; i++)); do
    ns="${p}n$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add eth0 type veth peer name "n$i" netns "${p}f"
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "${p}f" link set dev "n$i" master br0
    ip -n "${p}f" link set dev "n$i" up
    ip -n "$ns" link add mgmt0 type veth peer name "m$i" netns "${p}f"
    ip -n "$ns" addr add "$mgmt.$((i + 1))/24" dev mgmt0
    ip -n "$ns" link set mgmt0 up
    ip -n "${p}f" link set dev "m$i" master br1
    ip -n "${p}f" link set dev "m$i" up
    echo "$ns slots=$slots" >>"$dir/hostfile"
  done
  # The remote launcher: `agent.sh HOST CMD...` as ssh would be called; HOST is a namespace of this set.
  cat >"$dir/agent.sh" <<EOF
#!/usr/bin/env bash
# Open MPI's plm_rsh_agent for the namespace nodes of $dir: runs the command in HOST's namespace.
host=\$1; shift
case "\$host" in ${p}n[0-9]*) ;; *) echo "agent.sh: \$host is not a node of this set" >&2; exit 255 ;; esac
exec "$self" exec-host "\$host" "\$*"
EOF
  chmod +x "$dir/agent.sh"
  # Wait until every node answers on both networks: a TCP connection to a closed port is refused (no ping here).
  local net
  for ((i = 1; i < n; i++)); do
    for net in "$subnet" "$mgmt"; do
      local ok=0
      for _ in $(seq 20); do
        local answer
        answer=$(ip netns exec "${p}n0" timeout 1 bash -c "echo >/dev/tcp/$net.$((i + 1))/9" 2>&1 || true)
        if [[ "$answer" == *refused* ]]; then
          ok=1
          break
        fi
        sleep 0.1
      done
      [ "$ok" -eq 1 ] || { cmd_down "$dir"; die "node $i does not answer on $net.$((i + 1))"; }
    done
  done
  trap - ERR
  # The guard: removes everything when the owner dies (a test killed by a timeout never runs its teardown).
  local owner=${WEFT_NETNS_OWNER:-$PPID}
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/state" ]; do sleep 1; done
                  WEFT_NETNS_GUARD=$$ "$3" down "$2"' guard "$owner" "$dir" "$self" </dev/null >/dev/null 2>&1 &
  echo "guard_pid=$!" >>"$dir/state"
  echo "$dir"
}

# CMD (one shell string, as ssh passes it) on the node whose namespace is NS, with the node's hostname.
cmd_exec_host() {
  local ns=$1 cmd=$2
  exec ip netns exec "$ns" unshare --uts -- /bin/sh -c "hostname $ns && exec /bin/sh -c \"\$0\"" "$cmd"
}

cmd_exec() {
  local dir=$1 i=$2
  shift 2
  load "$dir"
  local ns
  ns=$(ns_of "$i")
  exec ip netns exec "$ns" unshare --uts -- /bin/sh -c 'hostname "$0" && exec "$@"' "$ns" "$@"
}

# Open MPI's settings for these nodes, as OMPI_MCA_* variables (mpirun and its daemons read them).
mpi_environment() {
  local dir=$1
  export OMPI_MCA_plm_rsh_agent="$dir/agent.sh"
  export OMPI_MCA_btl="${WEFT_BTL:-vader,tcp,self}"
  export OMPI_MCA_btl_tcp_if_include="$subnet.0/24"
  export OMPI_MCA_oob_tcp_if_include="$mgmt.0/24"
  export OMPI_MCA_rmaps_base_oversubscribe=1  # every node shares this machine's cores
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
  # A node whose management link goes down leaves an idle out-of-band connection that only keepalives can find
  # dead (defaults: 300 s + 9 x 20 s); here ~8 s, after which mpirun names the lost node and ends the job.
  export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-5}
  export OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-1}
  export OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
  if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
}

cmd_mpirun() {
  local dir=$1 ranks=$2
  shift 2
  load "$dir"
  mpi_environment "$dir"
  cmd_exec "$dir" 0 "$repo/cluster/mpirun_hosts.sh" "$dir/hostfile" "$ranks" "$@"
}

# Any program under mpirun across the nodes (benchmarks): mpirun --hostfile DIR/hostfile ARGS... on node 0.
cmd_mpiexec() {
  local dir=$1
  shift
  load "$dir"
  mpi_environment "$dir"
  cmd_exec "$dir" 0 mpirun --hostfile "$dir/hostfile" --bind-to none "$@"
}

cmd_link() {
  local dir=$1 i=$2 state=$3 net=${4:-data}
  load "$dir"
  [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -lt "$nodes" ] || die "link: no node '$i' (0..$((nodes - 1)))"
  [ "$state" = up ] || [ "$state" = down ] || die "link: state must be up or down, not '$state'"
  case "$net" in
    data) ip -n "${prefix}f" link set dev "n$i" "$state" ;;
    mgmt) ip -n "${prefix}f" link set dev "m$i" "$state" ;;
    both) ip -n "${prefix}f" link set dev "n$i" "$state" && ip -n "${prefix}f" link set dev "m$i" "$state" ;;
    *) die "link: network must be data, mgmt or both, not '$net'" ;;
  esac
}

cmd_shape() {
  local dir=$1 rate=$2 i
  load "$dir"
  for ((i = 0; i < nodes; i++)); do
    if [ "$rate" = off ]; then
      tc -n "$(ns_of "$i")" qdisc del dev eth0 root 2>/dev/null || true
      tc -n "${prefix}f" qdisc del dev "n$i" root 2>/dev/null || true
      continue
    fi
    # Burst: at least rate / HZ (250) worth of bytes so the bucket can reach the rate; 64 ms of queue.
    tc -n "$(ns_of "$i")" qdisc replace dev eth0 root tbf rate "$rate" burst 4mb latency 64ms
    tc -n "${prefix}f" qdisc replace dev "n$i" root tbf rate "$rate" burst 4mb latency 64ms
  done
}

cmd_with() {
  local n=$1
  shift
  local dir
  dir=$(mktemp -d /tmp/weft-netns.XXXXXX)
  rmdir "$dir"
  local rc=0
  WEFT_NETNS_OWNER=$$ cmd_up "$dir" "$n" >/dev/null || rc=$?
  [ "$rc" -eq 0 ] || exit "$rc"
  trap 'cmd_down "$dir"' EXIT
  trap 'exit 130' INT TERM
  WEFT_NETNS=$dir "$@"
}

sub=${1:-}
[ $# -gt 0 ] && shift
case "$sub" in
  up) [ $# -ge 2 ] || die "usage: up DIR N [SUBNET] [SLOTS]"; cmd_up "$@" ;;
  down) [ $# -eq 1 ] || die "usage: down DIR"; cmd_down "$1" ;;
  mpirun) [ $# -ge 2 ] || die "usage: mpirun DIR RANKS ARGS..."; cmd_mpirun "$@" ;;
  mpiexec) [ $# -ge 2 ] || die "usage: mpiexec DIR MPIRUN-ARGS..."; cmd_mpiexec "$@" ;;
  exec) [ $# -ge 3 ] || die "usage: exec DIR I CMD..."; cmd_exec "$@" ;;
  exec-host) cmd_exec_host "$@" ;;
  kill) [ $# -eq 2 ] || die "usage: kill DIR I"; load "$1"; kill_node_processes "$(ns_of "$2")" ;;
  link) [ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: link DIR I up|down [data|mgmt|both]"; cmd_link "$@" ;;
  shape) [ $# -eq 2 ] || die "usage: shape DIR RATE|off"; cmd_shape "$@" ;;
  with) [ $# -ge 2 ] || die "usage: with N CMD..."; cmd_with "$@" ;;
  *) die "usage: up|down|mpirun|exec|kill|link|shape|with (see the head of this file)" ;;
esac
