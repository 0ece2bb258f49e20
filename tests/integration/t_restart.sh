# shellcheck shell=bash
# Sourced by run.sh: running jobs survive corrald reloads (SIGHUP, the
# exec in place of docs/restart.md), with their followers, an attached
# `corral run` and clients starting jobs all the while; one reload swaps
# in a rebuilt corrald.  Its own instance, "restart", whose corrald is a
# copy the test may replace.

rbin=$work/rbin
mkdir -m 0755 "$rbin"
install -m 0755 "$build/corrald" "$rbin/corrald"
CORRAL_CORRALD=$rbin/corrald start_instance restart

resumed() { [ "$(grep -c '^corrald: resumed:' "$dir/corrald.log")" -ge "$1" ]; }
helper_pid() { sed -n 's/.*helper ready (pid \([0-9]*\).*/\1/p' "$dir/corrald.log" | tail -n 1; }

# rbin/corrald replaced as a package upgrade does (a new file renamed
# over the old one): a different binary, by its bytes and its inode.
swap_corrald() {
	cp "$rbin/corrald" "$rbin/corrald.new"
	printf 'rebuilt' >>"$rbin/corrald.new"
	mv "$rbin/corrald.new" "$rbin/corrald"
}

# The helper replaced the same way (root's, setuid, the instance's mode),
# and its policy changed: max_jobs 256 -> 200.
swap_helper() {
	cp "$dir/corral-helper" "$dir/corral-helper.new"
	printf 'rebuilt' >>"$dir/corral-helper.new"
	chown root:"$mgrp" "$dir/corral-helper.new"
	chmod 4750 "$dir/corral-helper.new"
	mv "$dir/corral-helper.new" "$dir/corral-helper"
	sed -i 's/^max_jobs = .*/max_jobs = 200/' "$CORRAL_TEST_DIR/helper.conf"
}
helper_max_jobs() { sed -n 's/.*helper ready (.*max_jobs \([0-9]*\)).*/\1/p' "$dir/corrald.log" | tail -n 1; }

# 4 clients start `corral run -- true` in a loop until $work/rs.stop
# exists; each line of rs.loopN is "rc id".
run_loop() {
	local n=$1 rc id
	while [ ! -e "$work/rs.stop" ]; do
		cr "$uA" run -- true 2>"$work/rs.loop$n.err"
		rc=$?
		id=$(sed -n 's/.*as job \([0-9a-f-]*\).*/\1/p' "$work/rs.loop$n.err" | head -n 1)
		echo "$rc $id" >>"$work/rs.loop$n"
		[ "$rc" = 0 ] || sed "s/^/# loop $n: /" "$work/rs.loop$n.err"
	done
}

t_reload() {
	local n=250 ids=() fpids=() lpids=() id i k rpid hpid before after
	local pauses=() t0 t1 ino bad_f=0 bad_l=0 acked=0
	rpid=$CORRALD_PID
	for i in 1 2 3; do
		ids+=("$(cr "$uA" run -d -- sh -c "$(counter $n)")")
	done
	# 10 followers: 4, 3 and 3 of the three jobs
	for k in 0 1 2 3 4 5 6 7 8 9; do
		cr "$uA" logs -f "${ids[$((k % 3))]}" >"$work/rs.f$k" 2>"$work/rs.f$k.err" &
		fpids+=($!)
	done
	cr "$uB" run -q -- sh -c "$(counter $n 7)" >"$work/rs.att" 2>"$work/rs.att.err" &
	local apid=$!
	for k in 1 2 3 4; do
		run_loop $k &
		lpids+=($!)
	done
	sleep 0.5
	hpid=$(helper_pid)
	for i in 1 2 3 4 5; do
		[ $i = 3 ] && swap_corrald
		[ $i = 4 ] && swap_helper
		t0=$(now_ns)
		kill -HUP "$rpid"
		# the pause a new client sees: a request sent right after
		cr "$uA" whoami >/dev/null
		t1=$(now_ns)
		pauses+=($(((t1 - t0) / 1000000)))
		wait_for 10 resumed $i || break
		sleep 0.6
	done
	expect reload_five_times "resumed $(grep -c '^corrald: resumed:' "$dir/corrald.log") times; log: $(tail -n 5 "$dir/corrald.log" | tr '\n' '|')" \
		resumed 5
	expect reload_same_pid_and_helper "corrald pid $rpid alive: $(kill -0 "$rpid" 2>&1); helper $hpid -> $(helper_pid)" \
		sh -c 'kill -0 "$1" && [ "$2" = "$3" ]' _ "$rpid" "$hpid" "$(helper_pid)"
	ino=$(stat -c %i "$rbin/corrald")
	expect reload_runs_the_new_binary "running $(stat -L -c %i "/proc/$rpid/exe"), on disk $ino" \
		test "$(stat -L -c %i "/proc/$rpid/exe")" = "$ino"
	ino=$(stat -c %i "$dir/corral-helper")
	expect reload_runs_the_new_helper "helper $hpid runs $(stat -L -c %i "/proc/$hpid/exe"), on disk $ino; max_jobs $(helper_max_jobs); $(grep -i 're-exec' "$dir/corrald.log" | tail -n 2 | tr '\n' '|')" \
		sh -c '[ "$(stat -L -c %i "/proc/$1/exe")" = "$2" ] && [ "$3" = 200 ]' _ "$hpid" "$ino" "$(helper_max_jobs)"
	touch "$work/rs.stop"
	wait "${lpids[@]}"
	for id in "${ids[@]}"; do cr "$uA" wait "$id" >/dev/null 2>&1; done
	wait "$apid"
	local arc=$?
	wait "${fpids[@]}"
	for k in 0 1 2 3 4 5 6 7 8 9; do
		cmp -s "$work/rs.f$k" <(counted $n) || { bad_f=$((bad_f + 1)); echo "# follower $k: $(wc -l <"$work/rs.f$k") lines; $(head -c 200 "$work/rs.f$k.err")"; }
	done
	expect reload_followers_every_byte "$bad_f of 10 followers did not get c0..c$((n - 1)) once, in order" test $bad_f = 0
	expect reload_attached_run "exit $arc (want 7), $(wc -l <"$work/rs.att") lines; $(head -c 200 "$work/rs.att.err")" \
		sh -c '[ "$1" = 7 ] && cmp -s "$2" "$3"' _ "$arc" "$work/rs.att" <(counted $n)
	for id in "${ids[@]}"; do
		[ "$(field "$id" state)/$(field "$id" exit_code)" = exited/0 ] || bad_l=$((bad_l + 1))
	done
	expect reload_jobs_end_right "$bad_l of 3 counter jobs did not end exited/0" test $bad_l = 0
	bad_l=0
	while read -r rc id; do
		acked=$((acked + 1))
		if [ "$rc" != 0 ] || [ -z "$id" ] || [ "$(field "$id" state)/$(field "$id" exit_code)" != exited/0 ]; then
			bad_l=$((bad_l + 1))
			echo "# run -- true: rc $rc, job ${id:-none}: $(field "$id" state)"
		fi
	done < <(cat "$work"/rs.loop[1-4])
	expect reload_runs_during_reloads "$bad_l of $acked runs failed or ended wrong" \
		test $bad_l = 0 -a $acked -gt 20
	expect reload_nothing_lost "lost jobs: $(sql "SELECT count(*) FROM jobs WHERE state = 'lost'")" \
		test "$(sql "SELECT count(*) FROM jobs WHERE state = 'lost'")" = 0
	before=$(printf '%s\n' "${pauses[@]}" | sort -n | sed -n 3p)
	after=$(printf '%s\n' "${pauses[@]}" | sort -n | tr '\n' ' ')
	MEASURE_RELOAD="median ${before} ms (all: ${after}ms), $acked runs in the loops"
	echo "# reload: a request sent right after SIGHUP waited $MEASURE_RELOAD"
}

# A reload that cannot happen (a configuration the successor would
# refuse) is refused, and the running corrald goes on serving.
t_reload_bad_conf() {
	local rpid=$CORRALD_PID id
	cp "$dir/corrald.conf" "$work/rs.conf"
	echo "no_such_key = 1" >>"$dir/corrald.conf"
	kill -HUP "$rpid"
	wait_for 5 grep -q 'reload refused' "$dir/corrald.log"
	local refused=$?
	cp "$work/rs.conf" "$dir/corrald.conf"
	id=$(cr "$uA" run -d -- echo still-here)
	cr "$uA" wait "$id" >/dev/null 2>&1
	expect reload_bad_conf_refused "refused=$refused; logs: $(cr "$uA" logs "$id" 2>&1)" \
		sh -c '[ "$1" = 0 ] && kill -0 "$2" && [ "$3" = still-here ]' _ "$refused" "$rpid" "$(cr "$uA" logs "$id" 2>&1)"
}

# An attached run's connection is still tied to its job after a reload:
# when the client goes, the job is hung up (stopped), as without one.
t_reload_keeps_hangup() {
	local id apid
	cr "$uA" run -- sleep 100 >/dev/null 2>"$work/hu.err" &
	apid=$!
	wait_for 10 grep -q 'as job' "$work/hu.err"
	id=$(sed -n 's/.*as job \([0-9a-f-]*\).*/\1/p' "$work/hu.err")
	local n=$(grep -c '^corrald: resumed:' "$dir/corrald.log")
	kill -HUP "$CORRALD_PID"
	wait_for 10 resumed $((n + 1))
	pkill -KILL -P "$apid"	# corral itself: the child of cr's subshell
	wait "$apid" 2>/dev/null
	wait_for 10 sh -c '[ "$(setpriv --reuid="$1" --regid="$2" --init-groups sqlite3 -cmd ".timeout 5000" "$3" "SELECT state FROM jobs WHERE id = '"'"'$4'"'"'")" = stopped ]' \
		_ "$mgr" "$mgrp" "$db" "$id"
	expect reload_keeps_hangup "job ${id:-none} after its client was killed: $(field "$id" state)" \
		test "$(field "$id" state)" = stopped
}

# Without systemd a crash of corrald still ends its jobs (the helper
# kills them when its link closes; docs/restart.md), but the clients ride
# over it: an attached run, logs -f and wait reconnect once corrald is
# back, get the rest of the log once, and the end the store has.
t_crash_clients_reconnect() {
	local id env t0 t1 arc frc wrc
	id=$(cr "$uA" run -d -- sh -c "$(counter 400)")
	cr "$uA" logs -f "$id" >"$work/rc.f" 2>"$work/rc.f.err" &
	local fpid=$!
	cr "$uA" wait "$id" >/dev/null 2>"$work/rc.w.err" &
	local wpid=$!
	cr "$uB" run -q -- sh -c "$(counter 400)" >"$work/rc.att" 2>"$work/rc.att.err" &
	local apid=$!
	sleep 1.5
	kill -9 "$CORRALD_PID"
	sleep 1
	t0=$(now_ns)
	env=$("$inst" restart "$dir") && eval "$env"
	wait "$apid"; arc=$?
	wait "$fpid"; frc=$?
	wait "$wpid"; wrc=$?
	t1=$(now_ns)
	expect crash_corrald_back "instance.sh restart: $env" test -n "$env"
	cr "$uA" logs "$id" >"$work/rc.log" 2>/dev/null
	expect crash_follower_every_byte_once "follower $(wc -l <"$work/rc.f") lines, log $(wc -l <"$work/rc.log"); rc $frc; $(head -c 300 "$work/rc.f.err")" \
		sh -c 'cmp -s "$1" "$2" && [ -s "$1" ] && grep -q reconnecting "$3"' _ "$work/rc.f" "$work/rc.log" "$work/rc.f.err"
	expect crash_attached_run_reconnects "exit $arc, $(head -c 300 "$work/rc.att.err" | tr '\n' '|')" \
		sh -c '[ "$1" = 125 ] && grep -q "reconnecting" "$2" && grep -q "state lost" "$2"' _ "$arc" "$work/rc.att.err"
	expect crash_wait_reconnects "wait exit $wrc; state $(field "$id" state); $(head -c 300 "$work/rc.w.err")" \
		sh -c '[ "$1" = 125 ] && [ "$2" = lost ]' _ "$wrc" "$(field "$id" state)"
	echo "# crash: clients back $(((t1 - t0) / 1000000)) ms after corrald was started again"
}

MEASURE_RELOAD=
t_reload
t_reload_bad_conf
t_reload_keeps_hangup
t_crash_clients_reconnect
stop_instance
