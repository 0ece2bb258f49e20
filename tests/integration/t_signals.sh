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

stop_instance
if [ -n "${sig_alone:-}" ]; then
	finish
fi
