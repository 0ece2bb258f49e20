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

t_lazy_log
stop_instance
