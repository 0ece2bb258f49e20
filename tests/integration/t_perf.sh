# Sourced by tests/integration/run.sh: what the start path's savings must
# not change.  A log file is made by the job's first output, so a job that
# writes nothing leaves none, and every reader still sees an empty log.
# shellcheck shell=bash

start_instance perf

t_lazy_log() {
	local id out rc f late
	out=$(cr "$uA" run -q --name quiet -- true 2>&1); rc=$?
	id=$(sql "SELECT id FROM jobs WHERE name='quiet'")
	f=$dir/state/logs/$id.log
	expect lazy_quiet_runs "rc=$rc: $out" test "$rc" = 0
	expect lazy_quiet_no_file "$f exists: $(ls -l "$f" 2>&1)" test ! -e "$f"
	out=$(cr "$uA" logs quiet 2>&1); rc=$?
	expect lazy_quiet_logs_empty "rc=$rc: '$out'" test "$rc" = 0 -a -z "$out"
	expect lazy_quiet_log_bytes "log_bytes $(field "$id" log_bytes), state $(field "$id" state)" \
		test "$(field "$id" log_bytes)" = 0 -a "$(field "$id" state)" = exited
	out=$(cr "$uA" run -q --name loud -- echo loud 2>&1); rc=$?
	id=$(sql "SELECT id FROM jobs WHERE name='loud'")
	expect lazy_output_file "rc=$rc: $out; file: $(ls -l "$dir/state/logs/$id.log" 2>&1)" \
		sh -c '[ "$1" = 0 ] && [ "$2" = loud ] && [ -s "$3" ]' _ "$rc" "$out" "$dir/state/logs/$id.log"
	# A follower that attached before the file existed gets what comes.
	id=$(cr "$uA" run -d -- sh -c 'sleep 1; echo late')
	expect lazy_follow_before_file "a file already: $(ls "$dir/state/logs/$id.log" 2>&1)" \
		test ! -e "$dir/state/logs/$id.log"
	late=$(cr "$uA" logs -f "$id" 2>&1); rc=$?
	expect lazy_follow_gets_late "rc=$rc: '$late'" test "$rc" = 0 -a "$late" = late
	# corral rm of a job without a file
	out=$(cr "$uA" rm quiet 2>&1); rc=$?
	expect lazy_rm_no_file "rc=$rc: $out" test "$rc" = 0
}

# A reload (SIGHUP: corrald re-execs and takes its jobs over) while a
# job has written nothing yet: the job goes on, and its first output
# makes the file then.
t_lazy_log_reload() {
	local id rc out n
	n=$(grep -c '^corrald: resumed:' "$dir/corrald.log")
	id=$(cr "$uA" run -d -- sh -c 'sleep 2; echo after')
	expect lazy_reload_no_file_yet "$(ls "$dir/state/logs/$id.log" 2>&1)" \
		test ! -e "$dir/state/logs/$id.log"
	kill -HUP "$CORRALD_PID"
	wait_for 10 sh -c '[ "$(grep -c "^corrald: resumed:" "$1")" -gt "$2" ]' _ "$dir/corrald.log" "$n"
	cr "$uA" wait "$id" >/dev/null 2>&1; rc=$?
	out=$(cr "$uA" logs "$id" 2>&1)
	expect lazy_reload_job_goes_on "wait rc=$rc, state $(field "$id" state), logs '$out'; log: $(tail -n 3 "$dir/corrald.log" | tr '\n' '|')" \
		sh -c '[ "$1" = 0 ] && [ "$2" = exited ] && [ "$3" = after ]' _ "$rc" "$(field "$id" state)" "$out"
}

t_lazy_log
t_lazy_log_reload
stop_instance
