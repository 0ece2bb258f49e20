# shellcheck shell=bash
# Sourced by run.sh: running jobs survive a crash (kill -9) and a restart
# (SIGTERM, then started again) of corrald under systemd's fd store
# (docs/restart.md), here tests/integration/fdstore.py standing in for
# systemd, which is not pid 1 on this host.  Its own instance, "crash".

CORRAL_FDSTORE=1 start_instance crash

cr_pid() { cat "$dir/corrald.pid" 2>/dev/null; }
cr_logged() { cr "$uA" logs "$1" 2>&1 | grep -q -- "$2"; }
cr_running() { [ "$(field "$1" state)" = running ]; }
cr_state_is() { [ "$(field "$1" state)" = "$2" ]; }
# corrald was started again (another pid) and serves.
cr_back() { [ -n "$(cr_pid)" ] && [ "$(cr_pid)" != "$1" ] && cr "$uA" whoami >/dev/null 2>&1; }

# kill -9 or SIGTERM (a restart: fdstore.py starts it again, as
# Restart= does) of corrald while a job prints a counter, with a
# follower, an attached run and a wait: the job runs on (same process),
# every client gets every line once and the right exit code.
t_crash_resume() {
	local how=$1 sig=$2 n=200 id jpid jpid2 old t0 t1 frc wrc arc
	id=$(cr "$uA" run -d -- sh -c "$(counter $n 6)")
	cr "$uA" logs -f "$id" >"$work/cr.$how.f" 2>"$work/cr.$how.f.err" &
	local fpid=$!
	cr "$uA" wait "$id" >/dev/null 2>"$work/cr.$how.w.err" &
	local wpid=$!
	cr "$uB" run -q -- sh -c "$(counter $n 7)" >"$work/cr.$how.att" 2>"$work/cr.$how.att.err" &
	local apid=$!
	sleep 1
	jpid=$(field "$id" pid)
	old=$(cr_pid)
	t0=$(now_ns)
	kill "-$sig" "$old"
	wait_for 10 cr_back "$old"
	t1=$(now_ns)
	jpid2=$(field "$id" pid)
	expect "crash_${how}_job_runs_on" "job pid $jpid -> $jpid2, alive: $(kill -0 "$jpid" 2>&1 && echo yes); state $(field "$id" state); log: $(tail -n 4 "$dir/corrald.log" | tr '\n' '|')" \
		sh -c '[ -n "$1" ] && [ "$1" = "$2" ] && kill -0 "$1" && [ "$3" = running ]' _ "$jpid" "$jpid2" "$(field "$id" state)"
	wait "$apid"; arc=$?
	wait "$fpid"; frc=$?
	wait "$wpid"; wrc=$?
	expect "crash_${how}_follower_every_line_once" "follower: $(wc -l <"$work/cr.$how.f") lines, rc $frc; $(head -c 300 "$work/cr.$how.f.err")" \
		cmp -s "$work/cr.$how.f" <(counted $n)
	expect "crash_${how}_attached_run" "exit $arc (want 7), $(wc -l <"$work/cr.$how.att") lines; $(head -c 300 "$work/cr.$how.att.err" | tr '\n' '|')" \
		sh -c '[ "$1" = 7 ] && cmp -s "$2" "$3"' _ "$arc" "$work/cr.$how.att" <(counted $n)
	expect "crash_${how}_wait_exit_code" "wait exit $wrc (want 6); state $(field "$id" state)/$(field "$id" exit_code); $(head -c 200 "$work/cr.$how.w.err")" \
		sh -c '[ "$1" = 6 ] && [ "$2" = exited ]' _ "$wrc" "$(field "$id" state)"
	echo "# crash ($how): corrald serving again $(((t1 - t0) / 1000000)) ms after the signal (fdstore.py restarts it after 100 ms)"
}

# A job that ends while corrald is down (stopped with SIGSTOP, then
# killed): its EXITED waits in the parked link, its output in its pipe;
# the next corrald records its end and exit code.
t_crash_ends_while_down() {
	local id old wrc
	id=$(cr "$uA" run -d -- sh -c 'echo before; sleep 0.5; echo after; exit 9')
	wait_for 5 grep -q before "$dir/state/logs/$id.log"
	old=$(cr_pid)
	kill -STOP "$old"
	sleep 1.2
	kill -9 "$old"
	wait_for 10 cr_back "$old"
	cr "$uA" wait "$id" >/dev/null 2>&1
	wrc=$?
	expect crash_job_ended_while_down "wait $wrc (want 9); $(field "$id" state)/$(field "$id" exit_code); logs: $(cr "$uA" logs "$id" 2>&1 | tr '\n' ' ')" \
		sh -c '[ "$1" = 9 ] && [ "$2" = exited ] && [ "$3" = "before after " ]' _ "$wrc" "$(field "$id" state)" "$(cr "$uA" logs "$id" 2>&1 | tr '\n' ' ')"
}

# A -t job (its pty master parked as tty-<id>) runs on through a kill -9
# and a reload after it (the master then goes across in the reload's
# record as a terminal whose input has ended): every line is logged, the
# exit code is right.
t_crash_tty() {
	local old wrc
	# The terminal's input never ends (an EOF from /dev/null would be
	# typed into the job and echoed into its output).
	mkfifo "$work/cr.tty.in"
	sleep 60 >"$work/cr.tty.in" &
	local hold=$!
	script -qec "setpriv --reuid=$uA --regid=nogroup --init-groups env CORRAL_SOCKET=$CORRAL_SOCKET $corral run -q -t --name crtty -- sh -c 'i=0; while [ \$i -lt 80 ]; do echo t\$i; i=\$((i+1)); sleep 0.03; done; exit 5'" /dev/null <"$work/cr.tty.in" >/dev/null 2>&1 &
	local spid=$!
	wait_for 5 cr_logged crtty t5
	old=$(cr_pid)
	kill -9 "$old"
	wait_for 10 cr_back "$old"
	kill -HUP "$(cr_pid)"
	cr "$uA" wait crtty >/dev/null 2>&1
	wrc=$?
	kill "$spid" "$hold" 2>/dev/null
	wait "$spid" "$hold" 2>/dev/null
	expect crash_tty_job_runs_on "wait $wrc (want 5); $(cr "$uA" status crtty 2>&1 | grep -E 'state|error' | tr '\n' ' '); log: $(cr "$uA" logs crtty 2>&1 | tr -d '\r' | tr '\n' ' ' | head -c 300)" \
		sh -c '[ "$1" = 5 ] && [ "$2" = "$3" ]' _ "$wrc" "$(cr "$uA" logs crtty 2>&1 | tr -d '\r')" "$(seq 0 79 | sed 's/^/t/')"
}

# What comes back is checked against the helper's own word (JOBS): a
# job whose output did not come back (the store "forgot" it) is killed
# and recorded lost; a job whose pipe came back but that the helper does
# not hold (a row made running by hand, a pipe injected under its name)
# is recorded lost; an fd under a name corrald never parks, or of the
# wrong kind, is closed and logged.
t_crash_resync() {
	local id1 jpid old ghost bogus now
	id1=$(cr "$uA" run -d -- sleep 100)
	wait_for 5 cr_running "$id1"
	jpid=$(field "$id1" pid)
	ghost=$(cat /proc/sys/kernel/random/uuid)
	bogus=$(cat /proc/sys/kernel/random/uuid)
	now=$(($(now_ns) / 1000000))
	sql "INSERT INTO jobs (id, uid, state, argv, cwd, created_ms, started_ms) VALUES ('$ghost', $uidA, 'running', X'7300', '/', $now, $now)"
	printf 'forget %s\ninject out-%s pipe\ninject err-%s null\ninject bogus-name pipe\n' \
		"$id1" "$ghost" "$bogus" >"$dir/fdstore.ctl"
	kill -USR2 "$(cat "$dir/fdstore.pid")"
	wait_for 5 grep -q "did $dir/fdstore.ctl" "$dir/corrald.log"
	old=$(cr_pid)
	kill -9 "$old"
	wait_for 10 cr_back "$old"
	wait_for 5 sh -c '! kill -0 "$1" 2>/dev/null' _ "$jpid"
	wait_for 10 grep -q "re-synced with the helper" "$dir/corrald.log"
	wait_for 5 sh -c '[ "$(setpriv --reuid="$1" --regid="$2" --init-groups sqlite3 -cmd ".timeout 5000" "$3" "SELECT state FROM jobs WHERE id = '"'"'$4'"'"'")" = lost ]' \
		_ "$mgr" "$mgrp" "$db" "$ghost"
	expect crash_resync_kills_job_without_output "job $id1 (pid $jpid) alive: $(kill -0 "$jpid" 2>/dev/null && echo yes || echo no); state $(field "$id1" state) \"$(field "$id1" error)\"; log: $(grep "$id1" "$dir/corrald.log" | tail -n 2 | tr '\n' '|')" \
		sh -c '! kill -0 "$1" 2>/dev/null && [ "$2" = lost ] && grep -q "held by the helper, but its output did not come back" "$3"' \
		_ "$jpid" "$(field "$id1" state)" "$dir/corrald.log"
	expect crash_resync_loses_job_helper_lacks "state $(field "$ghost" state) \"$(field "$ghost" error)\"" \
		sh -c '[ "$1" = lost ] && [ "$2" = "corrald restarted; the helper no longer held the job" ]' \
		_ "$(field "$ghost" state)" "$(field "$ghost" error)"
	expect crash_resync_closes_bad_fds "log: $(grep 'not taken back' "$dir/corrald.log" | tail -n 3 | tr '\n' '|')" \
		sh -c 'grep -q "not a name corrald parks" "$1" && grep -q "job output (fd [0-9]*) is not what it should be" "$1"' _ "$dir/corrald.log"
}

# "systemctl stop": the store is emptied (the helper reads EOF on its
# link and kills every job), corrald gets SIGTERM.  No job process and
# no job cgroup is left; the next start records the job lost, "corrald
# stopped".
t_crash_stop() {
	local id jpid spid env
	id=$(cr "$uA" run -d -- sleep 100)
	wait_for 5 cr_running "$id"
	jpid=$(field "$id" pid)
	spid=$(cat "$dir/fdstore.pid")
	kill -USR1 "$spid"
	wait_for 10 sh -c '! kill -0 "$1" 2>/dev/null' _ "$spid"
	wait_for 10 sh -c '! kill -0 "$1" 2>/dev/null && [ -z "$(find "$2" -mindepth 2 -type d 2>/dev/null)" ]' \
		_ "$jpid" "$mnt$cgbase/jobs"
	expect crash_stop_leaves_nothing "job pid $jpid alive: $(kill -0 "$jpid" 2>/dev/null && echo yes || echo no); job cgroups: $(find "$mnt$cgbase/jobs" -mindepth 2 -type d 2>/dev/null | tr '\n' ' ')" \
		sh -c '! kill -0 "$1" 2>/dev/null && [ -z "$(find "$2" -mindepth 2 -type d 2>/dev/null)" ]' _ "$jpid" "$mnt$cgbase/jobs"
	env=$("$inst" restart "$dir") && eval "$env"
	expect crash_stop_recorded_at_next_start "state $(field "$id" state), error \"$(field "$id" error)\"" \
		sh -c '[ "$1" = lost ] && [ "$2" = "corrald stopped" ]' _ "$(field "$id" state)" "$(field "$id" error)"
}

# A stop under way at the crash: the job ignores TERM, `corral stop
# --grace 2s` has been answered, then corrald is killed before the grace
# is over.  The kill after the grace must not die with corrald: the next
# corrald carries the stop on (from the job's audit), so the job is gone
# and recorded `stopped`.
t_crash_stop_under_way() {
	local id jpid old
	id=$(cr "$uA" run -d -- sh -c 'trap "" TERM; echo up; while :; do sleep 0.2; done')
	wait_for 5 cr_logged "$id" up
	jpid=$(field "$id" pid)
	cr "$uA" stop --grace 2s "$id" >/dev/null 2>&1
	old=$(cr_pid)
	kill -9 "$old"
	wait_for 10 cr_back "$old"
	wait_for 8 sh -c '! kill -0 "$1" 2>/dev/null' _ "$jpid"
	wait_for 5 cr_state_is "$id" stopped
	expect crash_stop_under_way_carried_on "job pid $jpid alive: $(kill -0 "$jpid" 2>/dev/null && echo yes || echo no); state $(field "$id" state); log: $(grep "$id" "$dir/corrald.log" | tail -n 2 | tr '\n' '|')" \
		sh -c '! kill -0 "$1" 2>/dev/null && [ "$2" = stopped ]' _ "$jpid" "$(field "$id" state)"
}

# An EXITED corrald read but never acted on: corrald (under
# tests/faults/killafter.so) dies of SIGKILL right after it took the
# job's EXITED out of the link, before anything of it was recorded.  The
# helper no longer holds the job, but tells its end again at JOBS (its
# last ends, RF_ENDED): the job ends `exited` with its code, not `lost`.
cr_run_eleven() { id=$(cr "$uA" run -d -- sh -c 'echo one; sleep 0.5; echo two; exit 11' 2>/dev/null) && [ -n "$id" ]; }
t_crash_exited_in_flight() {
	local shim=$work/killafter.so flag=$dir/run/killafter id old spid wrc env
	install -m 0644 "$build/tests/faults/killafter.so" "$shim"
	spid=$(cat "$dir/fdstore.pid")
	kill -USR1 "$spid"
	wait_for 10 sh -c '! kill -0 "$1" 2>/dev/null' _ "$spid"
	env=$(LD_PRELOAD="$shim" CORRAL_KILL_AFTER="$flag" "$inst" restart "$dir") && eval "$env"
	# Until the new helper is ready ("the helper is starting").
	wait_for 10 cr_run_eleven
	wait_for 5 cr_logged "$id" one
	old=$(cr_pid)
	touch "$flag"
	wait_for 10 cr_back "$old"
	cr "$uA" wait "$id" >/dev/null 2>&1
	wrc=$?
	expect crash_exited_in_flight_right_end "wait $wrc (want 11); state $(field "$id" state)/$(field "$id" exit_code) \"$(field "$id" error)\"; corrald $old killed by the shim: $([ -e "$flag" ] && echo no || echo yes); log: $(grep "$id" "$dir/corrald.log" | tail -n 2 | tr '\n' '|')" \
		sh -c '[ "$1" = 11 ] && [ "$2" = exited ] && [ ! -e "$3" ]' _ "$wrc" "$(field "$id" state)" "$flag"
}

t_crash_resume kill9 KILL
t_crash_resume restart TERM
t_crash_stop_under_way
t_crash_ends_while_down
t_crash_tty
t_crash_resync
t_crash_stop
t_crash_exited_in_flight
stop_instance
