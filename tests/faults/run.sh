#!/bin/bash
# Fault tier: what corral promises when things break.  Each fault is
# made on a private instance (tests/instance.sh) and its invariant
# checked; every line is "ok NAME counts" or "FAIL NAME: detail", the
# last "N passed, M failed".  Run as root under the test lock (make
# check-faults does both).
#
#   second instance   a second corrald on the same state dir or socket
#   kill -9 storm     corrald and the helper killed at random moments
#                     while 4 clients start jobs
#   SIGSTOP           clients time out instead of hanging
#   SIGTERM           attached clients get their jobs' final records
#   torn log          a log cut inside a record; a lost job's figures
#   damaged store     a damaged and a newer-schema database are refused
#   full disk         the state directory on a small file system, filled
#                     to the brim and freed again
set -u

TIER=check-faults TIER_PREFIX=f
. "$(dirname "$0")/../tier.sh"

small=
cleanup_extra=cleanup_small
cleanup_small() {
	[ -n "$small" ] && { umount "$small" 2>/dev/null; rmdir "$small" 2>/dev/null; }
}

# The manager user's corrald, run by hand (a second instance).
corrald_as_mgr() { # corrald_as_mgr CONF: runs it, at most 10 s
	timeout 10 setpriv --reuid="$mgr" --regid="$mgrp" --init-groups \
		"$build/corrald" -c "$1" 2>&1
}
helper_pid() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$dir/corral-helper" ] && { echo "${p#/proc/}"; return 0; }
	done
	return 1
}
restart_corrald() {
	local env
	env=$("$inst" restart "$dir") && eval "$env"
}
cgroup_jobs_empty() { [ -z "$(find "$mnt$cgbase/jobs" -mindepth 2 -type d 2>/dev/null)" ]; }
no_user_procs() { ! pgrep -u "$uidA" >/dev/null; }
corrald_log() { cat "$dir/corrald.log"; }

# --- a second corrald -----------------------------------------------------

f_second_instance() {
	local id out rc st conf2
	id=$(cr "$uA" run -d -- sleep 60)
	out=$(corrald_as_mgr "$dir/corrald.conf"); rc=$?
	expect second_state_dir_refused "rc=$rc: $out" \
		sh -c '[ "$1" != 0 ] && [ "$1" != 124 ] && echo "$2" | grep -q "another corrald (pid $3) uses the state directory"' \
		_ "$rc" "$out" "$CORRALD_PID"
	# another state directory, the same socket
	conf2=$work/second.conf
	install -d -o "$mgr" -g "$mgrp" -m 0750 "$work/state2"
	sed "s|^state_dir = .*|state_dir = $work/state2|" "$dir/corrald.conf" >"$conf2"
	out=$(corrald_as_mgr "$conf2"); rc=$?
	expect second_socket_refused "rc=$rc: $out" \
		sh -c '[ "$1" != 0 ] && [ "$1" != 124 ] && echo "$2" | grep -q "a live corrald listens on"' _ "$rc" "$out"
	st=$(field "$id" state)
	out=$(cr "$uA" whoami 2>&1); rc=$?
	expect second_first_unharmed "whoami rc=$rc, job $st, sleep alive: $(pgrep -u "$uidA" -x sleep | wc -l)" \
		sh -c '[ "$1" = 0 ] && [ "$2" = running ] && pgrep -u "$3" -x sleep >/dev/null' _ "$rc" "$st" "$uidA"
	cr "$uA" kill "$id" >/dev/null 2>&1
	cr "$uA" wait "$id" >/dev/null 2>&1
}

# --- a start that fails inside corrald ---------------------------------------

f_manager_stage() {
	local out rc id
	chmod 0500 "$state/logs"
	out=$(cr "$uA" run --name mstage -- true 2>&1); rc=$?
	chmod 0750 "$state/logs"
	id=$(sql "SELECT id FROM jobs WHERE name='mstage'")
	expect manager_stage_failed "rc=$rc: $out; row $(field "$id" state)/$(field "$id" stage)" \
		sh -c '[ "$1" = 126 ] && [ "$2" = failed ] && [ "$3" = manager ]' \
		_ "$rc" "$(field "$id" state)" "$(field "$id" stage)"
	expect manager_stage_audited "start rows: $(sql "SELECT outcome FROM audit WHERE action='start' AND job_id='$id'")" \
		test "$(sql "SELECT outcome FROM audit WHERE action='start' AND job_id='$id'")" = failed
}

# --- kill -9 of corrald and of the helper during a stream of runs ----------

storm_client() { # storm_client N: runs -d until $work/storm.stop exists
	local n=0 id
	while [ ! -e "$work/storm.stop" ]; do
		n=$((n + 1))
		id=$(CORRAL_TIMEOUT=3 cr "$uA" run -d --name "s$1-$n" -- true 2>/dev/null) &&
			echo "$id s$1-$n" >>"$work/acked.$1"
	done
}

f_kill_storm() {
	local i k kills=0 hkills=0 pids= acked missing dups integ orphans rc out
	for i in 1 2 3 4; do
		: >"$work/acked.$i"
		storm_client $i &
		pids="$pids $!"
	done
	bgpids="$bgpids $pids"
	for k in 1 2 3 4 5 6; do
		sleep "0.$(((RANDOM % 7) + 3))"
		if [ $((k % 3)) = 0 ] && i=$(helper_pid); then
			kill -9 "$i" && hkills=$((hkills + 1))
		else
			kill -9 "$CORRALD_PID" && kills=$((kills + 1))
			sleep "0.$((RANDOM % 5))"
			restart_corrald || { bad storm_restart "instance.sh restart failed"; break; }
		fi
	done
	sleep 1
	touch "$work/storm.stop"
	for i in $pids; do wait "$i"; done
	# Every acknowledged job is there, once; the store is whole; each job
	# has its run audit row; nothing runs and no cgroup is left.
	acked=$(cat "$work"/acked.* | wc -l)
	missing=0
	while read -r id name; do
		[ "$(field "$id" name)" = "$name" ] || missing=$((missing + 1))
	done <<EOF
$(cat "$work"/acked.*)
EOF
	dups=$(sql "SELECT count(*) FROM (SELECT name FROM jobs WHERE name LIKE 's%-%' GROUP BY name HAVING count(*) > 1)")
	integ=$(sql "PRAGMA integrity_check")
	orphans=$(sql "SELECT count(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM audit a WHERE a.job_id = j.id AND a.action = 'run')")
	wait_for 10 cgroup_jobs_empty
	rc=$?
	echo "# kill -9 storm: corrald killed $kills times, the helper $hkills; $acked jobs acknowledged, $missing missing, $dups duplicated"
	expect storm_nothing_acked_lost "acked $acked, missing $missing, duplicated $dups" \
		test "$missing" = 0 -a "$dups" = 0 -a "$acked" -gt 0
	expect storm_store_whole "integrity_check: $integ" test "$integ" = ok
	expect storm_every_job_audited "$orphans job rows without their run audit row" test "$orphans" = 0
	expect storm_nothing_left "processes of $uA: $(pgrep -u "$uidA" | wc -l), cgroups left rc $rc" \
		sh -c '[ "$1" = 0 ] && ! pgrep -u "$2" >/dev/null' _ "$rc" "$uidA"
	out=$(cr "$uA" run -q -- echo hi 2>&1)
	expect storm_serves_after "run after the storm: $out" test "$out" = hi
}

# --- SIGSTOP: clients time out --------------------------------------------

f_sigstop() {
	local t0 t1 out rc
	kill -STOP "$CORRALD_PID"
	t0=$(now_ns)
	out=$(CORRAL_TIMEOUT=2 cr "$uA" whoami 2>&1); rc=$?
	t1=$(now_ns)
	expect sigstop_whoami_times_out "rc=$rc after $(((t1 - t0) / 1000000)) ms: $out" \
		sh -c '[ "$1" = 125 ] && [ "$2" -lt 6000 ] && echo "$3" | grep -q "did not answer in 2 s"' \
		_ "$rc" "$(((t1 - t0) / 1000000))" "$out"
	out=$(CORRAL_TIMEOUT=2 cr "$uA" run -- true 2>&1); rc=$?
	expect sigstop_run_times_out "rc=$rc: $out" test "$rc" = 125
	kill -CONT "$CORRALD_PID"
	out=$(cr "$uA" whoami 2>&1); rc=$?
	expect sigstop_serves_after "rc=$rc: $out" test "$rc" = 0
}

# --- SIGTERM: attached clients get the final records -------------------------

f_sigterm() {
	local rc out pid left
	cr "$uA" run --name term -- sleep 100 >"$work/term.out" 2>&1 &
	pid=$!
	wait_for 10 sh -c "pgrep -u $uidA -x sleep >/dev/null"
	kill -TERM "$CORRALD_PID"
	wait "$pid"; rc=$?
	out=$(cat "$work/term.out")
	wait_for 10 no_user_procs
	left=$(pgrep -u "$uidA" | wc -l)
	restart_corrald || bad term_restart "instance.sh restart failed"
	expect sigterm_final_record "corral run rc=$rc: $out" \
		sh -c '[ "$1" = 137 ] && ! echo "$2" | grep -q "may still be running"' _ "$rc" "$out"
	expect sigterm_recorded "state $(field "$(sql "SELECT id FROM jobs WHERE name='term'")" state), $left left" \
		sh -c '[ "$1" = killed ] && [ "$2" = 0 ]' _ "$(sql "SELECT state FROM jobs WHERE name='term'")" "$left"
}

# --- torn log tails and lost jobs --------------------------------------------

f_torn_log() {
	local id log out rc lb lost last t_kill
	id=$(cr "$uA" run -d --name torn -- sh -c 'printf "one\ntwo\n"; exit 3')
	cr "$uA" wait "$id" >/dev/null 2>&1
	log=$state/logs/$id.log
	# a record cut short: the first 30 bytes of the log's first record
	head -c 30 "$log" >>"$log"
	out=$(cr "$uA" logs "$id" 2>&1); rc=$?
	expect torn_logs_stop_at_whole_record "rc=$rc: $out" \
		sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "^two$" && echo "$2" | grep -q "incomplete record"' _ "$rc" "$out"
	cr "$uA" wait "$id" >/dev/null 2>&1; rc=$?
	expect torn_wait_exit_code "wait rc=$rc" test "$rc" = 3
	# a job lost with its corrald keeps its output count and last sign of life
	id=$(cr "$uA" run -d --name lostlog -- sh -c 'head -c 5000 /dev/zero; sleep 100')
	wait_for 5 sh -c "[ -s '$state/logs/$id.log' ]"
	sleep 0.3
	t_kill=$(($(date +%s%N) / 1000000))
	kill -9 "$CORRALD_PID"
	wait_for 5 no_user_procs
	head -c 20 "$state/logs/$id.log" >>"$state/logs/$id.log"
	sleep 1
	restart_corrald || bad torn_restart "instance.sh restart failed"
	lost=$(field "$id" state) lb=$(field "$id" log_bytes) last=$(field "$id" ended_ms)
	expect torn_lost_keeps_figures "state $lost, log_bytes $lb, ended_ms $last (killed at $t_kill)" \
		sh -c '[ "$1" = lost ] && [ "$2" = 5000 ] && [ -n "$3" ] && [ "$3" -le "$4" ]' _ "$lost" "$lb" "$last" "$t_kill"
	out=$(cr "$uA" logs "$id" 2>/dev/null | wc -c)
	expect torn_lost_log_readable "$out bytes" test "$out" = 5000
}

# --- a damaged and a newer database --------------------------------------------

f_damaged_store() {
	local db0 out rc
	start_instance dmg
	state=$dir/state
	cr "$uA" run -- true >/dev/null 2>&1
	kill -TERM "$CORRALD_PID"
	wait_for 10 sh -c "! kill -0 $CORRALD_PID 2>/dev/null"
	cp "$db" "$work/good.db"
	sql "PRAGMA user_version = 99"
	out=$(corrald_as_mgr "$dir/corrald.conf"); rc=$?
	expect store_newer_refused "rc=$rc: $out" \
		sh -c '[ "$1" != 0 ] && [ "$1" != 124 ] && echo "$2" | grep -q "schema version 99 is newer"' _ "$rc" "$out"
	cp "$work/good.db" "$db"
	# garbage over the middle of the database file
	db0=$(stat -c %s "$db")
	dd if=/dev/urandom of="$db" bs=1024 seek=1 count=$(((db0 / 1024) - 1)) conv=notrunc 2>/dev/null
	out=$(corrald_as_mgr "$dir/corrald.conf"); rc=$?
	expect store_damaged_refused "rc=$rc: $out" \
		sh -c '[ "$1" != 0 ] && [ "$1" != 124 ] && echo "$2" | grep -q "job store is damaged"' _ "$rc" "$out"
	cp "$work/good.db" "$db"
	restart_corrald
	out=$(cr "$uA" run -q -- echo back 2>&1)
	expect store_restored_serves "$out" test "$out" = back
	stop_instance
}

# --- a sync of the store that fails ----------------------------------------------

# corrald syncs the store once per loop turn for every start and end of
# that turn (group commit) and tells nobody of them before.  A disk that
# fails the sync must leave the client untold: no STARTED, no final record.
corrald_gone() { ! grep -qs '^State:[[:space:]]*[^Z]' "/proc/$CORRALD_PID/status"; }
with_syncfail() { # restart corrald with the shim; failing while $flag exists
	local shim=$work/syncfail.so env
	install -m 0644 "$build/tests/faults/syncfail.so" "$shim"
	kill "$CORRALD_PID" 2>/dev/null
	env=$(env LD_PRELOAD="$shim" CORRAL_SYNCFAIL="$flag" "$inst" restart "$dir") && eval "$env"
}

f_sync_fails() {
	local flag=$work/syncfail cid rc err out n st
	with_syncfail || { bad sync_restart "instance.sh restart failed"; return; }
	# An end: the job is running and its client attached when the disk
	# starts failing; the job's end must not reach the client.
	cr "$uA" run -- sleep 1 >"$work/sf.out" 2>"$work/sf.err" &
	cid=$!
	bgpids="$bgpids $cid"
	wait_for 10 grep -q "Running as job" "$work/sf.err"
	touch "$flag"
	wait_for 15 sh -c "! kill -0 $cid 2>/dev/null"
	wait "$cid"; rc=$?
	err=$(cat "$work/sf.err")
	n=$(corrald_log | grep -c "sync of the write-ahead log")
	expect sync_end_untold "client rc=$rc: $err; corrald log lines: $n" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -q "may still be running" && [ "$3" -ge 1 ]' _ "$rc" "$err" "$n"
	expect sync_fail_stops "corrald $CORRALD_PID still runs after a failed sync" wait_for 10 corrald_gone
	# A start: the job runs, but its STARTED waits for the sync that fails.
	rm -f "$flag"
	with_syncfail || { bad sync_restart "instance.sh restart failed"; return; }
	touch "$flag"
	out=$(timeout 20 setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" "$corral" run -- true 2>&1); rc=$?
	wait_for 10 corrald_gone
	n=$(corrald_log | grep -c "sync of the write-ahead log")
	expect sync_start_untold "rc=$rc: $out; corrald log lines: $n" \
		sh -c '[ "$1" = 125 ] && ! echo "$2" | grep -q "Running as job" && [ "$3" -ge 2 ]' _ "$rc" "$out" "$n"
	# A long job's STARTED: no end comes to share a sync with, so the
	# sync is due at the end of its short hold; it fails, and the client
	# hears nothing, at once (not when the job would have ended).
	rm -f "$flag"
	with_syncfail || { bad sync_restart "instance.sh restart failed"; return; }
	sleep 1.5	# past corrald's first retention pass, a timer of its own
	touch "$flag"
	out=$(timeout 20 setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" "$corral" run --name held -- sleep 60 2>&1); rc=$?
	wait_for 10 corrald_gone
	expect sync_held_start_untold "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && ! echo "$2" | grep -q "Running as job"' _ "$rc" "$out"
	rm -f "$flag"
	restart_corrald
	# What the store says after the restart is true: the job was killed
	# with the helper's link, and its row is lost, not running.
	st=$(sql "SELECT state FROM jobs WHERE name='held'")
	expect sync_held_lost "row '$st', sleeps: $(pgrep -u "$uidA" -x sleep | wc -l)" \
		sh -c '[ "$1" = lost ] && ! pgrep -u "$2" -x sleep >/dev/null' _ "$st" "$uidA"
	out=$(cr "$uA" run -q -- echo synced 2>&1)
	expect sync_after_restart "$out" test "$out" = synced
	# Without a failure a long job's STARTED comes while it runs (the
	# hold is short), not with its end.
	sleep 1.5	# as above
	: >"$work/held.err"
	cr "$uA" run -- sleep 30 >/dev/null 2>"$work/held.err" &
	cid=$!
	bgpids="$bgpids $cid"
	expect held_start_told "$(cat "$work/held.err")" \
		wait_for 5 grep -q "Running as job" "$work/held.err"
	kill "$cid" 2>/dev/null
	wait "$cid" 2>/dev/null
}

# --- the state directory on a small file system, filled and freed ---------------

fill() { dd if=/dev/zero of="$small/fill" bs=64k 2>/dev/null; sync; }

f_full_disk() {
	local wid out rc lines st dropped werr left id
	small=$work/small
	mkdir -p "$small"
	mount -t tmpfs -o size=24m,mode=0755 tmpfs "$small" || { bad full_mount "no tmpfs"; return; }
	CORRAL_STATE_DIR=$small/state start_instance full
	state=$small/state
	# A job writing 40 MiB slowly, attached, while the disk fills: it
	# runs on, its output is dropped and counted, and its end waits for
	# room to be recorded.
	cr "$uA" run --name writer -- sh -c \
		'i=0; while [ $i -lt 640 ]; do head -c 65536 /dev/zero; i=$((i + 1)); sleep 0.005; done' \
		>"$work/writer.out" 2>"$work/writer.err" &
	wid=$!
	wait_for 10 sh -c "[ -s '$work/writer.out' ]"
	fill
	out=$(cr "$uA" run -- true 2>&1); rc=$?
	expect full_run_refused_clearly "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -qi "full"' _ "$rc" "$out"
	wait_for 30 no_user_procs
	sleep 2
	st=$(sql "SELECT state FROM jobs WHERE name='writer'")
	expect full_end_waits "writer row: $st while its end cannot be written" test "$st" = running
	rm -f "$small/fill"
	wait "$wid"; rc=$?
	werr=$(cat "$work/writer.err")
	lines=$(corrald_log | grep -c "cannot write its log")
	st=$(sql "SELECT state FROM jobs WHERE name='writer'")
	dropped=$(sql "SELECT log_dropped FROM jobs WHERE name='writer'")
	echo "# full disk: the writer ended $st with $dropped bytes not stored; $lines line(s) in corrald's log"
	expect full_writer_told "writer rc=$rc, its stderr: $werr" \
		sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "bytes of the job.s output were not stored"' _ "$rc" "$werr"
	expect full_end_recorded "writer $st, dropped $dropped" \
		sh -c '[ "$1" = exited ] && [ "$2" -gt 0 ]' _ "$st" "$dropped"
	expect full_one_log_line_per_job "$lines lines 'cannot write its log'" test "$lines" = 1
	# A restart while full: corrald starts, serves, and marks its
	# predecessor's job lost once there is room.
	id=$(cr "$uA" run -d -- sleep 100)
	fill
	kill -9 "$CORRALD_PID"
	wait_for 5 no_user_procs
	restart_corrald
	out=$(cr "$uA" whoami 2>&1); rc=$?
	expect full_restart_starts "restart while full: corrald ${CORRALD_PID:-none}, whoami rc=$rc: $out" \
		sh -c 'kill -0 "$1" && [ "$2" = 125 ] && echo "$3" | grep -q "disk full"' _ "$CORRALD_PID" "$rc" "$out"
	rm -f "$small/fill"
	wait_for 10 sh -c "[ \"\$(setpriv --reuid=$mgr --regid=$mgrp --init-groups sqlite3 -cmd '.timeout 5000' '$db' \"SELECT state FROM jobs WHERE id='$id'\")\" = lost ]"
	st=$(field "$id" state)
	left=$(sql "SELECT count(*) FROM jobs WHERE state IN ('starting', 'running')")
	out=$(cr "$uA" run -q -- echo after 2>&1)
	expect full_catches_up "lost job $st, $left unfinished rows, run: $out" \
		sh -c '[ "$1" = lost ] && [ "$2" = 0 ] && [ "$3" = after ]' _ "$st" "$left" "$out"
	stop_instance
	umount "$small" && rmdir "$small" && small=
}

start_instance main
state=$dir/state
f_second_instance
f_manager_stage
f_sigstop
f_sigterm
f_torn_log
f_kill_storm
f_sync_fails
stop_instance
f_damaged_store
f_full_disk
finish
