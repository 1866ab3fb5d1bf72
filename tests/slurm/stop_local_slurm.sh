#!/usr/bin/env bash
# Stop the cluster start_local_slurm.sh started in DIR: cancel its jobs, wait for them to end,
# then stop slurmd, slurmctld and munged by their process ids (never by name).
set -uo pipefail
DIR=$1
[[ -f "$DIR/daemons.pids" ]] || { echo "local slurm: no cluster in $DIR" >&2; exit 1; }
export SLURM_CONF="$DIR/slurm.conf"
scancel --user=root >/dev/null 2>&1
for _ in $(seq 100); do
  [[ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ]] && break
  sleep 0.1
done
for pid in $(tac "$DIR/daemons.pids"); do
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
done
rm -f "$DIR/daemons.pids"
exit 0
