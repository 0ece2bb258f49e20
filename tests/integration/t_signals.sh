# Signals, hang-up, exit codes and the job's environment: an instance of
# their own ("sig", a 2 s stop grace).  Sourced by run.sh; also runs
# alone (as root, under the test lock):
#   BUILD=$PWD/build CORRAL_TEST_DIR=/run/corral-test-X \
#     flock /run/corral-test-X.lock bash tests/integration/t_signals.sh
# shellcheck shell=bash

if [ -z "${TIER:-}" ]; then
	TIER=check-integration TIER_PREFIX=s
	. "$(dirname "${BASH_SOURCE[0]}")/../tier.sh"
	sig_alone=1
fi

CORRAL_STOP_GRACE=2s start_instance sig

# --timeout: `corral run` and `corral wait` exit 124, as timeout(1),
# whether TERM ended the job or it exited from its own trap.
t_sig_timeout() {
	local rc id
	cr "$uA" run -q --timeout 300ms -- sleep 30
	rc=$?
	result $((rc != 124)) sig_timeout_run_124 "corral run exited $rc"
	id=$(cr "$uA" run -d --timeout 300ms -- sh -c 'trap "exit 0" TERM; sleep 30 & wait')
	cr "$uA" wait "$id"
	rc=$?
	result $((rc != 124)) sig_timeout_wait_124 "corral wait exited $rc, state $(field "$id" state)"
	expect sig_timeout_state "state $(field "$id" state), exit $(field "$id" exit_code)" \
		test "$(field "$id" state)" = timed_out -a "$(field "$id" exit_code)" = 0
}
t_sig_timeout

# A command that is not found names itself and the PATH searched: the
# job's (corrald's default, or the one given), not the caller's.
t_sig_not_found() {
	local out rc
	out=$(cr "$uA" run -- no-such-cmd-q 2>&1)
	rc=$?
	expect sig_notfound_default_path "exit $rc: $out" \
		has "$out" "no-such-cmd-q: command not found in PATH=/usr/local/bin:/usr/bin:/bin$"
	result $((rc != 127)) sig_notfound_127 "exit $rc"
	out=$(cr "$uA" run --env PATH=/nowhere:/bin -- no-such-cmd-q 2>&1)
	expect sig_notfound_given_path "$out" has "$out" "command not found in PATH=/nowhere:/bin$"
	out=$(cr "$uA" run -- /no/such/file 2>&1)
	rc=$?
	expect sig_notfound_path_given "exit $rc: $out" has "$out" "/no/such/file: no such file$"
}
t_sig_not_found

# -E VAR passes the caller's VAR, -E VAR=value sets one; a name no shell
# could set is refused by the client, and by corrald for any client
# (unit tier: test_run_env_name).
t_sig_env() {
	local out rc
	out=$(as "$uA" env SIG_X='a b' "$corral" run -q -E SIG_X -E SIG_Y=c=d --env SIG_Z= \
		-- sh -c 'printf "%s|%s|%s|%s" "$SIG_X" "$SIG_Y" "${SIG_Z-unset}" "${HOME:+home}"')
	expect sig_env_pass_and_set "got: $out" test "$out" = 'a b|c=d||home'
	out=$(cr "$uA" run --env 'A B=1' -- true 2>&1)
	rc=$?
	expect sig_env_bad_name "exit $rc: $out" \
		sh -c '[ "$1" = 125 ] && printf "%s" "$2" | grep -q "\"A B\" is not a variable name"' _ "$rc" "$out"
	out=$(as "$uA" env -u SIG_UNSET "$corral" run -E SIG_UNSET -- true 2>&1)
	rc=$?
	expect sig_env_unset "exit $rc: $out" \
		sh -c '[ "$1" = 125 ] && printf "%s" "$2" | grep -q "SIG_UNSET is not set here"' _ "$rc" "$out"
}
t_sig_env

# bg_run OUT ARGS...: `corral run ARGS` attached, as uA, in the
# background with $! its own pid (setpriv and env exec it); stdout to
# OUT, stderr to OUT.err.
bg_run() {
	local out=$1
	shift
	setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" PATH=/usr/bin:/bin \
		"$corral" run "$@" >"$out" 2>"$out.err" &
}
# The job id corral run printed ("Running as job ID").
bg_id() { sed -n 's/^Running as job \([0-9a-f-]*\)$/\1/p' "$1.err"; }
job_started() { [ -n "$(bg_id "$1")" ]; }
state_is() { [ "$(field "$1" state)" = "$2" ]; }
logged() { cr "$uA" logs "$1" 2>&1 | grep -q -- "$2"; }
# wait_pid PID: its exit status, or 255 if it is still there after 10 s.
wait_pid() {
	wait_for 10 not kill -0 "$1" 2>/dev/null || return 255
	wait "$1"
}

# interrupted OUT SIG... -- ARGS: bg_run OUT ARGS, and once the job runs
# send corral each SIG in turn (0.3 s apart); rc is corral's exit
# status, id the job's.
interrupted() {
	local out=$1 pid s sigs=''
	shift
	while [ "$1" != -- ]; do
		sigs="$sigs $1"
		shift
	done
	shift
	bg_run "$out" "$@"
	pid=$!
	wait_for 10 job_started "$out"
	for s in $sigs; do
		kill -"$s" "$pid"
		sleep 0.3
	done
	wait_pid "$pid"
	rc=$?
	id=$(bg_id "$out")
}

# Ctrl-C (SIGINT to corral) is the job's, as in a terminal: INT to its
# foreground group, so the shell's INT trap runs after sleep dies.
t_sig_ctrl_c() {
	local rc id
	interrupted "$work/cc1" INT -- -- sh -c 'trap "echo trapped; exit 5" INT; sleep 100; echo not-here'
	result $((rc != 5)) sig_ctrl_c_trap_runs "exit $rc, out: $(cat "$work/cc1" "$work/cc1.err")"
	expect sig_ctrl_c_trap_output "out: $(cat "$work/cc1")" test "$(cat "$work/cc1")" = trapped
	# Killed by SIGINT: 130, as a shell says; the job ended by itself.
	interrupted "$work/cc2" INT -- -- sleep 100
	result $((rc != 130)) sig_ctrl_c_130 "exit $rc, state $(field "$id" state) signal $(field "$id" signal)"
	expect sig_ctrl_c_exited "state $(field "$id" state)" state_is "$id" exited
	# A job deaf to INT: the first Ctrl-C changes nothing, the second
	# stops it.
	bg_run "$work/cc3" -- sh -c 'trap "" INT; sleep 100'
	local pid=$!
	wait_for 10 job_started "$work/cc3"
	kill -INT "$pid"
	sleep 0.3
	expect sig_ctrl_c_first_only_int "state $(field "$(bg_id "$work/cc3")" state)" kill -0 "$pid"
	kill -INT "$pid"
	wait_pid "$pid"
	rc=$?
	id=$(bg_id "$work/cc3")
	result $((rc != 143)) sig_ctrl_c_second_stops "exit $rc, state $(field "$id" state), $(cat "$work/cc3.err")"
	expect sig_ctrl_c_stopped "state $(field "$id" state)" state_is "$id" stopped
}
t_sig_ctrl_c

# SIGTERM to corral stops the job at once; Ctrl-C three times kills a
# job deaf to INT and TERM.  Queued, there is nobody to interrupt: the
# first Ctrl-C cancels the job, and so does a hang-up.
t_sig_escalation() {
	local pid rc id first
	interrupted "$work/te" TERM -- -- sh -c 'trap "echo got-term; exit 9" TERM; sleep 100 & wait'
	expect sig_term_stops "exit $rc, state $(field "$id" state), out $(cat "$work/te")" \
		test "$rc" = 9 -a "$(field "$id" state)" = stopped -a "$(cat "$work/te")" = got-term
	interrupted "$work/k3" INT INT INT -- -- sh -c 'trap "" INT TERM; sleep 100'
	expect sig_ctrl_c_third_kills "exit $rc, state $(field "$id" state), $(tr '\n' ' ' <"$work/k3.err")" \
		test "$rc" = 137 -a "$(field "$id" state)" = killed
	first=$(cr "$uA" run -d -- sleep 100)
	bg_run "$work/q1" --after "$first" -- true
	pid=$!
	wait_for 10 grep -q queued "$work/q1.err"
	kill -INT "$pid"
	wait_pid "$pid"
	rc=$?
	id=$(sed -n 's/^corral: job \([0-9a-f-]*\) queued.*/\1/p' "$work/q1.err")
	expect sig_ctrl_c_queued_cancels "exit $rc, state $(field "$id" state)" \
		test "$rc" = 125 -a "$(field "$id" state)" = cancelled
	bg_run "$work/q2" --after "$first" -- true
	pid=$!
	wait_for 10 grep -q queued "$work/q2.err"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	id=$(sed -n 's/^corral: job \([0-9a-f-]*\) queued.*/\1/p' "$work/q2.err")
	wait_for 5 state_is "$id" cancelled
	expect sig_hangup_queued_cancels "state $(field "$id" state), error $(field "$id" error)" \
		test "$(field "$id" state)" = cancelled -a "$(field "$id" error)" = "its attached client went away"
	cr "$uA" kill "$first"
}
t_sig_escalation

# stop sends TERM to every process of the job: a grandchild's TERM trap
# runs (before, only the main process got it, and the main shell's trap
# waited for the grandchild until the kill after the grace).
# stop_timed ID: corral stop, then wait; took_ms is how long until the
# end was recorded, out the job's log.
stop_timed() {
	local t0
	t0=$(now_ns)
	cr "$uA" stop "$1" 2>/dev/null
	cr "$uA" wait "$1"
	took_ms=$((($(now_ns) - t0) / 1000000))
	out=$(cr "$uA" logs "$1" 2>&1)
}

t_sig_stop_reaches_all() {
	local id took_ms out
	id=$(cr "$uA" run -d -- sh -c 'trap "wait; exit 7" TERM
		(trap "echo grandchild-term; exit 0" TERM; sleep 100 & wait) & wait')
	sleep 0.3
	stop_timed "$id"
	expect sig_stop_grandchild_trap "log: $out; state $(field "$id" state) exit $(field "$id" exit_code) signal $(field "$id" signal)" \
		test "$out" = grandchild-term -a "$(field "$id" exit_code)" = 7
	expect sig_stop_before_grace "took $took_ms ms (grace 2 s)" test "$took_ms" -lt 1500
	expect sig_stop_state "state $(field "$id" state)" state_is "$id" stopped
}
t_sig_stop_reaches_all

# Many processes: the helper's walk opens 64 pidfds at a time; 300 TERM
# traps in 300 subshells (601 processes) all run.
t_sig_stop_many() {
	local id t0 t1 n
	id=$(cr "$uA" run -d -- sh -c 'i=0; while [ $i -lt 300 ]; do
		(trap "echo t; exit 0" TERM; sleep 100 & wait) & i=$((i + 1)); done
		trap "wait; exit 0" TERM; echo ready >&2; wait')
	wait_for 10 logged "$id" ready
	sleep 1		# the last subshells set their traps
	t0=$(now_ns)
	cr "$uA" stop "$id" 2>/dev/null
	cr "$uA" wait "$id"
	t1=$(now_ns)
	n=$(cr "$uA" logs --stdout "$id" | grep -c '^t$')
	MEASURE_STOP_MANY="$(((t1 - t0) / 1000000)) ms"
	echo "# stop of 601 processes, 300 with a TERM trap, to the job's end: $MEASURE_STOP_MANY"
	expect sig_stop_many "$n of 300 traps ran, state $(field "$id" state), exit $(field "$id" exit_code), took $MEASURE_STOP_MANY" \
		test "$n" = 300 -a "$(field "$id" exit_code)" = 0
}
t_sig_stop_many

# kill --signal SIG: any signal to every process of the job.
t_sig_kill_signal() {
	local id rc out
	id=$(cr "$uA" run -d -- sh -c 'trap "echo got-usr1; exit 3" USR1; sleep 100 & wait')
	sleep 0.3
	cr "$uA" kill --signal usr1 "$id"
	cr "$uA" wait "$id"
	rc=$?
	out=$(cr "$uA" logs "$id" 2>&1)
	expect sig_kill_usr1 "exit $rc, log: $out, state $(field "$id" state)" \
		test "$rc" = 3 -a "$out" = got-usr1
	expect sig_kill_usr1_exited "state $(field "$id" state)" state_is "$id" exited
	expect sig_kill_usr1_audited "$(sql "SELECT detail FROM audit WHERE job_id = '$id' AND action = 'kill'")" \
		test "$(sql "SELECT detail FROM audit WHERE job_id = '$id' AND action = 'kill'")" = "signal=10"
	id=$(cr "$uA" run -d -- sleep 100)
	out=$(cr "$uA" kill -s NOSUCH "$id" 2>&1)
	rc=$?
	expect sig_kill_bad_name "exit $rc: $out" \
		sh -c '[ "$1" = 125 ] && printf "%s" "$2" | grep -q "\"NOSUCH\" is not a signal"' _ "$rc" "$out"
	out=$(cr "$uA" kill -s 33 "$id" 2>&1)
	expect sig_kill_libc_signal "$out" has "$out" "the C library's own"
	cr "$uA" kill -s SIGTERM "$id"
	cr "$uA" wait "$id"
	rc=$?
	result $((rc != 143)) sig_kill_term_143 "exit $rc, state $(field "$id" state)"
}
t_sig_kill_signal

# kill -s STOP pauses every process; a stop then still runs the TERM
# trap at once, because CONT follows TERM (not only at the kill after
# the grace).
t_sig_stopped_job_stops() {
	local id took_ms out
	id=$(cr "$uA" run -d -- sh -c 'trap "echo got-term; exit 6" TERM; sleep 100 & wait')
	sleep 0.3
	cr "$uA" kill -s STOP "$id"
	sleep 0.3
	stop_timed "$id"
	expect sig_stopped_job_gets_term "log: $out, exit $(field "$id" exit_code) signal $(field "$id" signal), took $took_ms ms" \
		test "$out" = got-term -a "$(field "$id" exit_code)" = 6 -a "$took_ms" -lt 1500
}
t_sig_stopped_job_stops

# Hang-up: `corral run -- yes | head -3` returns at once (corral dies of
# SIGPIPE, as yes would), and corrald stops the job; the job got SIGHUP
# first.  A -d job is not tied to its client.
t_sig_hangup() {
	local t0 t1 out id pid
	t0=$(now_ns)
	out=$(setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" "$corral" run -- yes 2>"$work/yes.err" | head -3 | tr '\n' ' ')
	t1=$(now_ns)
	MEASURE_HANGUP="$(((t1 - t0) / 1000000)) ms"
	echo "# corral run -- yes | head -3 returned in $MEASURE_HANGUP"
	expect sig_hangup_pipeline_returns "took $MEASURE_HANGUP, out: $out" \
		test "$out" = "y y y " -a $(((t1 - t0) / 1000000)) -lt 1000
	id=$(bg_id "$work/yes")
	expect sig_hangup_yes_stopped "state $(field "$id" state)" wait_for 5 state_is "$id" stopped
	expect sig_hangup_audited "audit rows: $(sql "SELECT action, uid, outcome FROM audit WHERE job_id = '$id'" | tr '\n' ' ')" \
		test "$(sql "SELECT count(*) FROM audit WHERE job_id = '$id' AND action = 'hangup' AND uid = $uidA AND outcome = 'ok'")" = 1
	# Output closed while the job prints nothing: corral sees it (EPOLLERR
	# on its stdout) and goes at once, without waiting for a write.
	t0=$(now_ns)
	out=$(setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" "$corral" run -- sh -c 'echo first; sleep 100' \
		2>"$work/silent.err" | head -1)
	t1=$(now_ns)
	id=$(bg_id "$work/silent")
	expect sig_hangup_silent_returns "took $(((t1 - t0) / 1000000)) ms, out: $out" \
		test "$out" = first -a $(((t1 - t0) / 1000000)) -lt 1000
	expect sig_hangup_silent_stopped "state $(field "$id" state)" wait_for 5 state_is "$id" stopped
	bg_run "$work/hup" -- sh -c 'trap "echo got-hup; exit 4" HUP; trap "" TERM; sleep 100 & wait'
	pid=$!
	wait_for 10 job_started "$work/hup"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	id=$(bg_id "$work/hup")
	wait_for 5 state_is "$id" stopped
	out=$(cr "$uA" logs "$id" 2>&1)
	expect sig_hangup_gets_hup "log: $out, state $(field "$id" state) exit $(field "$id" exit_code)" \
		test "$out" = got-hup -a "$(field "$id" exit_code)" = 4
	id=$(cr "$uA" run -d -- sleep 100)
	sleep 0.5
	expect sig_hangup_not_detached "state $(field "$id" state)" state_is "$id" running
	cr "$uA" kill "$id"
}
t_sig_hangup

# --merge: one pipe for stdout and stderr, so 10,000 alternating lines
# arrive in the job's own order (as 2>&1); all of it is stdout.
t_sig_merge() {
	local rc id
	cr "$uA" run -q --merge -- sh -c 'i=0; while [ $i -lt 5000 ]; do
		echo "out $i"; echo "err $i" >&2; i=$((i + 1)); done' >"$work/merge.out" 2>"$work/merge.err"
	rc=$?
	awk 'BEGIN { for (i = 0; i < 5000; i++) printf "out %d\nerr %d\n", i, i }' >"$work/merge.want"
	expect sig_merge_exact_order "exit $rc, $(wc -l <"$work/merge.out") lines, first difference: $(cmp "$work/merge.out" "$work/merge.want" 2>&1)" \
		cmp -s "$work/merge.out" "$work/merge.want"
	expect sig_merge_no_stderr "stderr: $(head -c 200 "$work/merge.err")" test ! -s "$work/merge.err"
	id=$(cr "$uA" run -d --merge -- sh -c 'echo a; echo b >&2')
	cr "$uA" wait "$id"
	expect sig_merge_recorded "merge column $(field "$id" merge), logs --stdout: $(cr "$uA" logs --stdout "$id" | tr '\n' ' ')" \
		test "$(field "$id" merge)" = 1 -a "$(cr "$uA" logs --stdout "$id" | tr '\n' ' ')" = "a b "
}
t_sig_merge

# --umask: the job's file mode creation mask (default the helper's 022).
t_sig_umask() {
	local out rc id
	out=$(cr "$uA" run -q --umask 077 -- sh -c 'umask; touch /tmp/sig-umask-$$; stat -c %a /tmp/sig-umask-$$; rm /tmp/sig-umask-$$')
	expect sig_umask_set "got: $(echo $out)" test "$(echo $out)" = "0077 600"
	id=$(cr "$uA" run -d --umask 027 -- true)
	cr "$uA" wait "$id"
	out=$(cr "$uA" status --json "$id")
	expect sig_umask_status "status: $(cr "$uA" status "$id" | grep -i umask), json: $out" \
		sh -c 'cr_status=$(printf "%s" "$1" | grep -c "\"umask\":\"0027\""); [ "$cr_status" = 1 ]' _ "$out"
	out=$(cr "$uA" run -q -- sh -c umask)
	expect sig_umask_default "got: $out" test "$out" = 0022
	out=$(cr "$uA" run --umask 8 -- true 2>&1)
	rc=$?
	expect sig_umask_bad "exit $rc: $out" \
		sh -c '[ "$1" = 125 ] && printf "%s" "$2" | grep -q "umask.*not an octal number"' _ "$rc" "$out"
	out=$(cr "$uA" run --umask 1000 -- true 2>&1)
	expect sig_umask_range "$out" has "$out" "above the maximum of 0777"
}
t_sig_umask

stop_instance
if [ -n "${sig_alone:-}" ]; then
	finish
fi
