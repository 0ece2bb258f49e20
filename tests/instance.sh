#!/bin/sh
# A private corral instance in a directory, for trying corral and for tests.
#
#   tests/instance.sh start DIR   prints CORRAL_SOCKET=... CORRAL_GROUP=...
#                                 CORRAL_ADMIN_GROUP=... as shell assignments
#   tests/instance.sh restart DIR starts corrald again (after it stopped or
#                                 was killed), with the same state
#   tests/instance.sh stop DIR    stops it and removes everything it made
#
# Needs root: it makes a throw-away manager user with a group of its own,
# the members' and the admins' groups, installs a
# setuid copy of the test helper (whose policy path is compiled in as
# $CORRAL_TEST_DIR/helper.conf, default /run/corral-test: one instance per
# such directory at a time) and a cgroup base under the cgroup2 mount.
# CORRAL_CORRALD runs that corrald binary instead of the build's (a
# reload execs the file at that path again: tests swap it).
# CORRAL_FDSTORE=1 runs corrald under tests/integration/fdstore.py, a
# stand-in for systemd's fd store that starts it again when it dies (with
# the fds it parked); stop then empties the store first, as systemctl
# stop does.
# CORRAL_MAX_JOBS is the helper's max_jobs, which corrald's queue follows
# (the global running cap); CORRAL_USER_MAX_JOBS corrald's per-user one.
# CORRAL_POLICY_EXTRA=FILE appends FILE's text to the test helper.conf
# ([network ...] sections); CORRAL_NETNS=NAME runs corrald and its helper
# in the network namespace /run/netns/NAME (ip netns add), so that the
# bridges and veths of --network are made there, never on the host's
# interfaces (nsenter --net, not ip netns exec, which would hide the
# cgroup2 mount under a fresh /sys).
# Permissions are the Debian package's: the helper is root:<manager's
# group> 4750 and the state directory the manager's alone, so members
# reach corrald through the socket only.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
policy_dir=${CORRAL_TEST_DIR:-/run/corral-test}

die() { echo "instance.sh: $*" >&2; exit 1; }

cgroup2_mount() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' \
		/proc/self/mountinfo | head -n 1
}

# Run corrald as the manager user (its own group first, the members'
# group as a supplementary one for the socket) and wait for its socket.
launch() {
	dir=$1 mgr=$2 mgrp=$3
	rm -f "$dir/run/corral.sock" "$dir/corrald.pid"
	if [ -n "$fdstore" ]; then
		# A stand-in for systemd's fd store, which also starts corrald
		# again when it dies, and writes its pid to corrald.pid.
		python3 "$top/tests/integration/fdstore.py" "$dir" -- \
			setpriv --reuid="$mgr" --regid="$mgrp" --init-groups --inh-caps=-all \
			"${CORRAL_CORRALD:-$build/corrald}" -c "$dir/corrald.conf" >>"$dir/corrald.log" 2>&1 </dev/null &
		echo $! >"$dir/fdstore.pid"
	else
		${netns:+nsenter --net=/run/netns/$netns} setpriv --reuid="$mgr" --regid="$mgrp" --init-groups --inh-caps=-all \
			"${CORRAL_CORRALD:-$build/corrald}" -c "$dir/corrald.conf" >>"$dir/corrald.log" 2>&1 </dev/null &
		echo $! >"$dir/corrald.pid"
	fi
	i=0
	while [ ! -S "$dir/run/corral.sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$dir/corrald.pid" 2>/dev/null || cat "$dir/fdstore.pid")" 2>/dev/null; then
			cat "$dir/corrald.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Running and not a zombie waiting to be reaped.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

restart() {
	dir=$1
	[ -f "$dir/instance.env" ] || die "$dir is not an instance directory"
	. "$dir/instance.env"
	pid=$(cat "$dir/corrald.pid")
	i=0
	while alive "$pid"; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "corrald still runs (pid $pid)"
		sleep 0.05
	done
	launch "$dir" "$mgr" "$mgrp" || die "corrald did not start"
	echo "CORRALD_PID=$(cat "$dir/corrald.pid")"
}

start() {
	dir=$1
	[ "$(id -u)" = 0 ] || die "must run as root"
	for p in corrald corral corral-helper-test; do
		[ -x "$build/$p" ] || die "$build/$p is missing: run make first"
	done
	if [ -e "$policy_dir/owner" ] && [ -d "$(cat "$policy_dir/owner")" ]; then
		die "another instance runs in $(cat "$policy_dir/owner"); stop it first"
	fi
	mnt=$(cgroup2_mount)
	[ -n "$mnt" ] || die "no cgroup2 mount"
	sfx=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	mgr=crl-m-$sfx mgrp=crl-g-$sfx ugrp=crl-u-$sfx agrp=crl-a-$sfx
	netns=${CORRAL_NETNS:-}
	fdstore=${CORRAL_FDSTORE:-}
	if [ -n "$netns" ] && [ ! -e "/run/netns/$netns" ]; then
		die "no network namespace $netns (ip netns add $netns)"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	chmod 755 "$dir"
	groupadd "$mgrp"
	groupadd "$ugrp"
	groupadd "$agrp"
	useradd -r -M -N -g "$mgrp" -G "$ugrp" -d /nonexistent -s /usr/sbin/nologin "$mgr"
	cat >"$dir/instance.env" <<ENV
mgr=$mgr
mgrp=$mgrp
ugrp=$ugrp
agrp=$agrp
cgbase=/corral-$sfx
mnt=$mnt
netns=${CORRAL_NETNS:-}
fdstore=${CORRAL_FDSTORE:-}
ENV
	mkdir -m 0755 -p "$policy_dir"
	echo "$dir" >"$policy_dir/owner"
	cat >"$policy_dir/helper.conf" <<CONF
[helper]
manager_user = $mgr
cgroup_base = /corral-$sfx
min_uid = 1000
max_jobs = ${CORRAL_MAX_JOBS:-256}
CONF
	if [ -n "${CORRAL_POLICY_EXTRA:-}" ]; then
		cat "$CORRAL_POLICY_EXTRA" >>"$policy_dir/helper.conf"
	fi
	chmod 0644 "$policy_dir/helper.conf"
	mkdir "$mnt/corral-$sfx"
	install -o root -g "$mgrp" -m 4750 "$build/corral-helper-test" "$dir/corral-helper"
	# CORRAL_STATE_DIR: a directory made beforehand (the fault tier's
	# small file system), given to the manager; else DIR/state.
	state=${CORRAL_STATE_DIR:-$dir/state}
	install -d -o "$mgr" -g "$mgrp" -m 0750 "$state"
	install -d -o "$mgr" -g "$mgrp" -m 0755 "$dir/run"
	cat >"$dir/corrald.conf" <<CONF
[corrald]
socket = $dir/run/corral.sock
socket_group = $ugrp
admin_group = $agrp
state_dir = $state
helper = $dir/corral-helper
log_max_bytes = ${CORRAL_LOG_MAX:-64M}
stop_grace = ${CORRAL_STOP_GRACE:-5s}
${CORRAL_MAX_CLIENTS:+max_clients = $CORRAL_MAX_CLIENTS}
${CORRAL_ADMIN_CLIENTS:+admin_clients = $CORRAL_ADMIN_CLIENTS}
${CORRAL_MAX_CLIENTS_PER_USER:+max_clients_per_user = $CORRAL_MAX_CLIENTS_PER_USER}
${CORRAL_IDLE_TIMEOUT:+client_idle_timeout = $CORRAL_IDLE_TIMEOUT}
${CORRAL_REQUEST_BUFFER_MAX:+request_buffer_max = $CORRAL_REQUEST_BUFFER_MAX}
${CORRAL_USER_MAX_JOBS:+user_max_running = $CORRAL_USER_MAX_JOBS}
${CORRAL_CONF_EXTRA:-}
CONF
	if ! launch "$dir" "$mgr" "$mgrp"; then
		stop "$dir"
		die "corrald did not start"
	fi
	echo "CORRAL_SOCKET=$dir/run/corral.sock"
	echo "CORRAL_GROUP=$ugrp"
	echo "CORRAL_ADMIN_GROUP=$agrp"
	echo "CORRALD_PID=$(cat "$dir/corrald.pid")"
}

stop() {
	dir=$1
	[ -f "$dir/instance.env" ] || die "$dir is not an instance directory"
	. "$dir/instance.env"
	if [ -n "${fdstore:-}" ] && [ -f "$dir/fdstore.pid" ]; then
		# "systemctl stop": the store is emptied, then corrald stopped.
		pid=$(cat "$dir/fdstore.pid")
		kill -USR1 "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [ -f "$dir/corrald.pid" ]; then
		pid=$(cat "$dir/corrald.pid")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	# The helper kills its jobs when corrald goes; wait for it, then sweep.
	base=$mnt$cgbase
	if [ -d "$base" ]; then
		i=0
		while [ -n "$(find "$base/jobs" -mindepth 2 -type d 2>/dev/null)" ] && [ $i -lt 100 ]; do
			sleep 0.05; i=$((i + 1))
		done
		# base/daemon holds the helper (it joins it at start): killed
		# processes leave their group a moment after the kill.
		find "$base" -mindepth 1 -depth -type d -exec sh -c 'echo 1 > "$1/cgroup.kill"
			i=0; while [ -n "$(cat "$1/cgroup.procs")" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
			rmdir "$1"' _ {} \; 2>/dev/null || true
		rmdir "$base" 2>/dev/null || true
	fi
	userdel "$mgr" 2>/dev/null || true
	groupdel "$mgrp" 2>/dev/null || true
	groupdel "$ugrp" 2>/dev/null || true
	groupdel "$agrp" 2>/dev/null || true
	if [ "$(cat "$policy_dir/owner" 2>/dev/null)" = "$dir" ]; then
		rm -f "$policy_dir/helper.conf" "$policy_dir/owner"
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
restart) [ $# -eq 2 ] || die "usage: $0 restart DIR"; restart "$2" ;;
*) die "usage: $0 start|stop|restart DIR" ;;
esac
