#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests: munged + slurmctld + slurmd on loopback
# addresses only, in a folder of its own. Needs root and Debian's slurmctld, slurmd,
# slurm-client and munge packages (apt-get install -y slurm-wlm munge).
#
#   bash tests/slurm/start_local_slurm.sh DIR [CPUS]    # prints nothing on success; exit 1 + reason if not
#   . DIR/env.sh                                        # SLURM_CONF, and a sacct stand-in on PATH
#   bash tests/slurm/stop_local_slurm.sh DIR
#
# DIR must not exist yet; every folder above it must be world-executable (munged refuses a
# socket under a private folder). Without an accounting database sacct cannot answer, so DIR/bin
# holds a small sacct that answers submitit's status queries from squeue.
set -euo pipefail
DIR=$1; CPUS=${2:-2}
STARTED=0
# fail REASON: say why, stop whatever this script already started (by PID), exit 1.
fail() {
  echo "local slurm: $*" >&2
  if (( STARTED )); then
    for pid in $(cat "$DIR"/munged.pids "$DIR"/daemons.pids 2>/dev/null); do kill "$pid" 2>/dev/null; done
  fi
  exit 1
}
[[ $(id -u) == 0 ]] || fail "needs root (slurmd runs jobs as their submitting user)"
for tool in munged mungekey munge slurmctld slurmd sinfo sbatch squeue scancel; do
  command -v "$tool" >/dev/null || fail "'$tool' not found: apt-get install -y slurm-wlm munge"
done
[[ ! -e "$DIR" ]] || fail "$DIR exists already"
mkdir -p "$DIR"/{state,spool,log,bin}
STARTED=1
chmod 755 "$DIR"
DIR=$(cd "$DIR" && pwd)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(free_port); SLURMD_PORT=$(free_port)
while [[ "$SLURMD_PORT" == "$CTLD_PORT" ]]; do SLURMD_PORT=$(free_port); done
MEM_MB=$(awk '/MemAvailable/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)

mungekey -c -k "$DIR/munge.key" >/dev/null 2>&1 || fail "mungekey failed"
chmod 600 "$DIR/munge.key"
munged -F --socket="$DIR/munge.sock" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
  --seed-file="$DIR/munge.seed" --log-file="$DIR/log/munged.log" >/dev/null 2>&1 &
echo $! >"$DIR/munged.pids"
for _ in $(seq 100); do munge -n -S "$DIR/munge.sock" >/dev/null 2>&1 && break; sleep 0.1; done
munge -n -S "$DIR/munge.sock" >/dev/null 2>&1 || fail "munged did not start (see $DIR/log/munged.log)"

cat >"$DIR/slurm.conf" <<CONF
ClusterName=localcluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge.sock
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
DependencyParameters=kill_invalid_depend
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"

# sacct without accounting: answer "JobID|State|NodeList" from squeue (jobs stay MinJobAge seconds).
cat >"$DIR/bin/sacct" <<'SACCT'
#!/usr/bin/env bash
ids=()
while (( $# )); do case "$1" in -j) ids+=("$2"); shift 2 ;; *) shift ;; esac; done
echo "JobID|State|NodeList"
(( ${#ids[@]} )) || exit 0
IFS=, ; squeue -h -r -t all -j "${ids[*]}" -o '%i|%T|%N' 2>/dev/null || true
SACCT
chmod 755 "$DIR/bin/sacct"
cat >"$DIR/env.sh" <<ENV
export SLURM_CONF="$DIR/slurm.conf"
export PATH="$DIR/bin:\$PATH"
ENV

slurmctld -D -f "$SLURM_CONF" >"$DIR/log/slurmctld.out" 2>&1 &
echo $! >>"$DIR/munged.pids"
slurmd -D -N localhost -f "$SLURM_CONF" >"$DIR/log/slurmd.out" 2>&1 &
echo $! >>"$DIR/munged.pids"
mv "$DIR/munged.pids" "$DIR/daemons.pids"  # munged, slurmctld, slurmd: stopped in reverse order
for _ in $(seq 150); do
  [[ "$(sinfo -h -N -o %t 2>/dev/null)" == idle ]] && exit 0
  sleep 0.2
done
fail "the node did not become idle in 30 s (see $DIR/log/)"
