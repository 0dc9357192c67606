#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests of the job scripts
# and for trying them by hand: munged, slurmctld and slurmd run from a
# directory of their own, on loopback ports of their own, beside (and never
# touching) any SLURM or MUNGE the machine already runs.
#
#   examples/evaluate/slurm/localcluster.sh start DIR [OWNER_PID]
#   export SLURM_CONF=DIR/slurm.conf     # then sbatch, squeue, sacct -c ...
#   examples/evaluate/slurm/localcluster.sh stop DIR
#
# start writes DIR/slurm.conf (one node, "local", on 127.0.0.1, with
# NODE_CPUS CPUs and NODE_GPUS GPUs, 8 each by default, whatever the machine
# has: four tasks of --gres=gpu:2 run at once, on the CPU), a fresh MUNGE
# key, and starts the three daemons, logging to DIR/log. It returns once
# sinfo shows the node idle, and prints how long that took. With OWNER_PID
# it also stops the cluster when that process ends, however it ends. stop
# cancels the jobs left, ends the daemons and waits for them.
#
# Accounting: there is no slurmdbd. Finished jobs are recorded by the job
# completion plugin in a text file (JobCompType=jobcomp/filetxt,
# DIR/jobcomp.log), which `sacct -c` reads.
#
# Exit status: 0 on success; 3 when this machine cannot run the cluster
# (the commands are missing, not root), with the reason on stderr; 1 when
# a daemon failed, with the end of its log.
set -euo pipefail

usage() {
	echo "usage: $0 start DIR [OWNER_PID] | stop DIR" >&2
	exit 2
}

# cannot reports why this machine cannot run the cluster.
cannot() {
	echo "localcluster: $*" >&2
	exit 3
}

# fail reports a daemon that did not come up, with the end of its log.
fail() {
	local log=$2
	echo "localcluster: $1" >&2
	if [ -s "$log" ]; then
		echo "--- last lines of $log:" >&2
		tail -n 20 "$log" >&2
	fi
	stop_daemons
	exit 1
}

# free_port prints a TCP port that nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_daemon NAME LOG COMMAND... starts a daemon in the foreground mode of
# its own, in the background here, and records its process id.
start_daemon() {
	local name=$1 log=$2
	shift 2
	"$@" >>"$log" 2>&1 </dev/null &
	echo $! >"$dir/run/$name.pid"
}

# cancel_jobs cancels the jobs the cluster still has, and waits up to 30
# seconds for them to end: a job's processes would outlive slurmd.
cancel_jobs() {
	[ -f "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null || return 0
	local jobs
	jobs=$(SLURM_CONF=$dir/slurm.conf squeue -h -o %i 2>/dev/null) || return 0
	[ -n "$jobs" ] || return 0
	# shellcheck disable=SC2086 # one job id a word
	SLURM_CONF=$dir/slurm.conf scancel $jobs 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		[ -z "$(SLURM_CONF=$dir/slurm.conf squeue -h -o %i 2>/dev/null)" ] && return 0
		sleep 0.1
	done
}

# stop_daemons cancels the jobs left, then ends the daemons in the reverse
# order of their start: TERM, then KILL for any left after 10 seconds.
stop_daemons() {
	local name pid pids=()
	cancel_jobs
	for name in slurmd slurmctld munged watchdog; do
		[ -f "$dir/run/$name.pid" ] || continue
		pid=$(cat "$dir/run/$name.pid")
		rm -f "$dir/run/$name.pid"
		if kill -TERM "$pid" 2>/dev/null; then
			pids+=("$pid")
		fi
	done
	for ((i = 0; i < 100; i++)); do
		local alive=()
		for pid in ${pids[@]+"${pids[@]}"}; do
			if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
		done
		[ ${#alive[@]} -eq 0 ] && return 0
		pids=("${alive[@]}")
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
}

start() {
	local owner=${1:-}
	for cmd in munged slurmctld slurmd sinfo sbatch python3; do
		command -v "$cmd" >/dev/null || cannot "$cmd is not installed (third_party/deps.sh installs Debian's slurm-wlm and munge)"
	done
	[ "$(uname -s)" = Linux ] || cannot "slurmd runs jobs on Linux only"
	[ "$(id -u)" -eq 0 ] || cannot "slurmd must run as root to start jobs, and this is uid $(id -u)"
	if [ -f "$dir/run/slurmctld.pid" ]; then
		echo "localcluster: a cluster already runs from $dir: stop it first" >&2
		exit 1
	fi

	local began
	began=$(date +%s.%N)
	mkdir -p "$dir"/{munge,state,spool,log,run}
	local node=local cpus=${NODE_CPUS:-8} gpus=${NODE_GPUS:-8} host
	host=$(hostname -s)
	local ctld_port slurmd_port
	ctld_port=$(free_port)
	slurmd_port=$(free_port)
	while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

	cat >"$dir/slurm.conf" <<-EOF
		# Written by localcluster.sh: one node on loopback, daemons as root.
		ClusterName=rlm-local
		SlurmctldHost=$host(127.0.0.1)
		SlurmctldPort=$ctld_port
		SlurmdPort=$slurmd_port
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		CredType=cred/munge
		# A requeued job waits cred_expire seconds before it runs again
		# (120 by default).
		AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
		StateSaveLocation=$dir/state
		SlurmdSpoolDir=$dir/spool
		SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
		SlurmdPidFile=$dir/run/slurmd.daemon.pid
		SlurmctldLogFile=$dir/log/slurmctld.log
		SlurmdLogFile=$dir/log/slurmd.log
		# No cgroups: jobs are tracked by process group, and nothing binds
		# or limits them, so the cluster runs in containers too.
		ProctrackType=proctrack/pgid
		TaskPlugin=task/none
		JobAcctGatherType=jobacct_gather/none
		MpiDefault=none
		# Finished jobs go to a text file that sacct -c reads: no slurmdbd.
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/filetxt
		JobCompLoc=$dir/jobcomp.log
		# Keep finished jobs in memory long enough to requeue and inspect them.
		MinJobAge=3600
		SchedulerType=sched/backfill
		SchedulerParameters=sched_interval=1
		SelectType=select/cons_tres
		SelectTypeParameters=CR_CPU
		GresTypes=gpu
		ReturnToService=2
		# The node is described here, not probed: it may claim more CPUs
		# than the machine has, so that four tasks run at once.
		SlurmdParameters=config_overrides
		KillWait=10
		NodeName=$node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=16384 Gres=gpu:$gpus State=UNKNOWN
		PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
	EOF
	# Stand-ins for GPU device files (character devices like /dev/null):
	# SLURM schedules them, and sets CUDA_VISIBLE_DEVICES for a job as it
	# would on a GPU node.
	mkdir -p "$dir/dev"
	: >"$dir/gres.conf"
	for ((k = 0; k < gpus; k++)); do
		mknod "$dir/dev/gpu$k" c 1 3 2>/dev/null || : >"$dir/dev/gpu$k"
		echo "NodeName=$node Name=gpu File=$dir/dev/gpu$k" >>"$dir/gres.conf"
	done
	export SLURM_CONF=$dir/slurm.conf

	dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$dir/munge/munge.key"
	start_daemon munged "$dir/log/munged.log" munged --foreground --force \
		--socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
		--pid-file="$dir/run/munged.daemon.pid" --seed-file="$dir/munge/munged.seed" \
		--log-file="$dir/log/munged.log"
	for ((i = 0; i < 100; i++)); do
		[ -S "$dir/munge/munge.socket" ] && break
		kill -0 "$(cat "$dir/run/munged.pid")" 2>/dev/null || fail "munged exited" "$dir/log/munged.log"
		sleep 0.1
	done
	[ -S "$dir/munge/munge.socket" ] || fail "munged made no socket in 10 seconds" "$dir/log/munged.log"

	start_daemon slurmctld "$dir/log/slurmctld.out" slurmctld -D -c -f "$dir/slurm.conf"
	start_daemon slurmd "$dir/log/slurmd.out" slurmd -D -N "$node" -f "$dir/slurm.conf"
	if [ -n "$owner" ]; then
		# The watchdog stops the cluster when its owner ends, even by a kill
		# that leaves the owner no time to stop it. It runs in a session of
		# its own, so that a signal to the owner's process group spares it.
		setsid "$0" watch "$dir" "$owner" </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/run/watchdog.pid"
	fi

	local state=""
	for ((i = 0; i < 600; i++)); do
		state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
		case $state in
		idle) break ;;
		*drain* | inval) fail "the node is $state: $(scontrol show node "$node" | sed -n 's/^ *Reason=//p')" "$dir/log/slurmctld.log" ;;
		esac
		kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null || fail "slurmctld exited" "$dir/log/slurmctld.log"
		kill -0 "$(cat "$dir/run/slurmd.pid")" 2>/dev/null || fail "slurmd exited" "$dir/log/slurmd.log"
		sleep 0.1
	done
	[ "$state" = idle ] || fail "the node is ${state:-unknown} after 60 seconds, not idle" "$dir/log/slurmd.log"
	printf 'localcluster: node %s idle after %.1f s; export SLURM_CONF=%s\n' \
		"$node" "$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$dir/slurm.conf"
}

[ $# -ge 2 ] || usage
command=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
case $command in
start)
	[ $# -le 3 ] || usage
	start "${3:-}"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop_daemons
	;;
watch)
	[ $# -eq 3 ] || usage
	while kill -0 "$3" 2>/dev/null; do sleep 1; done
	rm -f "$dir/run/watchdog.pid"
	stop_daemons
	;;
*) usage ;;
esac
