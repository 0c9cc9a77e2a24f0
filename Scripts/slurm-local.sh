#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the experiment tests and for
# trying `intraslice experiment slurm` without a cluster: Debian's slurm-wlm and munge,
# installed when missing, configured in a folder of their own (no file under /etc is
# changed) and started as daemons. Usage:
#   Scripts/slurm-local.sh start   # prints: export SLURM_CONF=…  (eval it, or set it)
#   Scripts/slurm-local.sh stop
# Environment: INTRASLICE_SLURM_DIR (default: /tmp/intraslice-slurm). Needs root (the
# daemons run as root on this single node) or sudo.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/assets.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/assets.sh"
# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/packages.sh"
# Outside /root: munged runs as the munge user and must reach its socket and log.
DIR=${INTRASLICE_SLURM_DIR:-/tmp/intraslice-slurm}
CONF=$DIR/slurm.conf
((EUID == 0)) || die "Scripts/slurm-local.sh runs the Slurm daemons as root: run it as root"

stop() {
  for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munged.pid"; do
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then kill "$(cat "$pidfile")" || true; fi
  done
  sleep 1
}

case ${1:-} in
stop)
  stop
  exit 0
  ;;
start) ;;
*) die "usage: Scripts/slurm-local.sh start|stop" ;;
esac

install_packages slurm-wlm munge
stop
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
chown munge:munge "$DIR/munge"
node=$(hostname -s)
cpus=$(nproc)
# What Slurm may hand out: all but 1 GiB of the memory.
memory=$(($(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024))
cat >"$CONF" <<CONF
ClusterName=intraslice
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
NodeName=$node CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
runuser -u munge -- munged --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/seed" </dev/null >/dev/null 2>&1
# munged writes its pid file as the munge user; keep a copy where stop() looks.
for _ in $(seq 50); do [[ -f $DIR/munge/munged.pid ]] && break; sleep 0.1; done
cp "$DIR/munge/munged.pid" "$DIR/munged.pid"
# Their output goes to their logs; holding our stdout open would keep a caller reading it waiting.
SLURM_CONF=$CONF slurmctld </dev/null >/dev/null 2>&1
SLURM_CONF=$CONF slurmd </dev/null >/dev/null 2>&1
for _ in $(seq 100); do
  if SLURM_CONF=$CONF sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$CONF"
    exit 0
  fi
  sleep 0.2
done
die "slurm did not come up; see $DIR/slurmctld.log and $DIR/slurmd.log"
