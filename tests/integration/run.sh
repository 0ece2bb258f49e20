#!/bin/bash
# Integration tier: corrald, the helper and the corral CLI end to end on
# this host, with throw-away users against private instances made by
# tests/instance.sh.  Every test prints "ok NAME" or "FAIL NAME: detail";
# the last line is "N passed, M failed".  Run as root, under
# flock /run/corral-test.lock (make check-integration does both).
#
# Four instances, one after the other (one test helper policy per
# TEST_HELPER_CONF, so one instance at a time): "cap", with a 1 MiB log
# cap and small connection caps for the lockout tests; "main", with a
# 1 GiB cap, so that the 512 MiB throughput measurement goes through the
# log unhindered; "ret", with short retention times; and "queue", with a
# running cap of 4 and 2 per user.
set -u

TIER=check-integration TIER_PREFIX=i
. "$(dirname "$0")/../tier.sh"

log_has() { cr "$3" logs "$1" 2>&1 | grep -q -- "$2"; }
more_failed() { [ "$(sql "SELECT count(*) FROM jobs WHERE uid=$uidA AND state='failed'")" -gt "$1" ]; }

# --- instance 1: the log cap ----------------------------------------------

CORRAL_LOG_MAX=1M CORRAL_MAX_CLIENTS=40 CORRAL_ADMIN_CLIENTS=8 \
	CORRAL_MAX_CLIENTS_PER_USER=20 CORRAL_IDLE_TIMEOUT=3s start_instance cap

# Past log_max_bytes (1M here) a log keeps its first half and its last
# half with a note between: the end of a failing build is never lost, and
# the file's blocks stay within the cap.
t_cap() {
	local id t0 t1 lb ld sz blocks out
	t0=$(now_ns)
	id=$(cr "$uA" run -d -- seq 1 3000000)
	cr "$uA" wait "$id"
	local rc=$?
	t1=$(now_ns)
	expect cap_job_not_blocked "20 MB job took $(((t1 - t0) / 1000000)) ms, exit $rc" \
		test $rc = 0 -a $(((t1 - t0) / 1000000)) -lt 10000
	echo "# 20 MiB through a 1 MiB cap: run -d + wait took $(((t1 - t0) / 1000000)) ms"
	cr "$uA" status --json "$id" >"$work/cap.json"
	lb=$(sed -n 's/.*"log_bytes":\([0-9]*\).*/\1/p' "$work/cap.json")
	ld=$(sed -n 's/.*"log_dropped":\([0-9]*\).*/\1/p' "$work/cap.json")
	sz=$(seq 1 3000000 | wc -c)
	expect cap_status_counts "log_bytes=$lb log_dropped=$ld of $sz, want about 1 MiB kept" \
		sh -c '[ $(($1 + $2)) = "$3" ] && [ "$1" -ge 1048576 ] && [ "$1" -le 1245184 ]' _ "$lb" "$ld" "$sz"
	cr "$uA" status "$id" >"$work/cap.txt"
	expect cap_status_text "status output: $(grep -i output "$work/cap.txt")" \
		grep -q "output: *$lb bytes stored, $ld dropped" "$work/cap.txt"
	cr "$uA" logs "$id" >"$work/cap.out" 2>"$work/cap.err"
	expect cap_keeps_the_head "logs stdout starts: $(head -c 30 "$work/cap.out" | tr '\n' ' ')" \
		cmp -s <(head -c 524288 "$work/cap.out") <(seq 1 3000000 | head -c 524288)
	expect cap_keeps_the_tail "logs stdout ends: $(tail -n 2 "$work/cap.out" | tr '\n' ' ')" \
		cmp -s <(tail -c 500000 "$work/cap.out") <(seq 1 3000000 | tail -c 500000)
	out=$(cat "$work/cap.err")
	expect cap_gap_note "logs stderr: $(head -c 300 "$work/cap.err")" \
		has "$out" "^corral: $ld bytes of output left out here"
	blocks=$(($(stat -c %b "$dir/state/logs/$id.log") * 512))
	echo "# the capped log: $(stat -c %s "$dir/state/logs/$id.log") bytes long, $blocks on disk"
	expect cap_disk_bounded "log uses $blocks bytes on disk" test "$blocks" -lt 1572864
	# Past the head (half the cap) but within the cap: nothing was left
	# out, so the note written ahead says nothing.
	id=$(cr "$uA" run -d -- head -c 800000 /dev/zero)
	cr "$uA" wait "$id"
	out=$(cr "$uA" logs "$id" 2>&1 >/dev/null)
	expect cap_no_empty_note "logs stderr: $out; stored $(field "$id" log_bytes)" \
		test -z "$out" -a "$(field "$id" log_bytes)" = 800000
}
t_cap

held() { grep -q '^held' "$1"; }
# hold USER OUT: rawclient's hold case in the background as USER, with
# $! its own pid (setpriv and env exec it), so that kill reaches it.
hold() {
	setpriv --reuid="$1" --regid=nogroup --init-groups \
		env HOLD_SECONDS=60 "$raw" "$CORRAL_SOCKET" hold >"$2" 2>&1 &
}
killed() { [ "$(field "$1" state)" = killed ]; }

# One member takes every connection it can and keeps them busy (so the
# idle timeout does not free them): max_clients_per_user stops it, and
# another member and an admin are still served.  Then a second member
# takes the rest: only admin_clients are left, and the admin still is.
t_lockout() {
	local ja jb hA hB out rc
	ja=$(cr "$uA" run -d -- sleep 600)
	jb=$(cr "$uB" run -d -- sleep 600)
	hold "$uA" "$work/hold.A"
	hA=$!
	bgpids="$bgpids $hA"
	wait_for 10 held "$work/hold.A"
	out=$(head -n 1 "$work/hold.A")
	has "$out" '^held 20; refused: too many connections of uid .*max_clients_per_user = 20'
	result $? lockout_per_user_cap "$out"
	out=$(cr "$uB" whoami 2>&1); rc=$?
	expect lockout_other_user_whoami "rc=$rc: $out" test $rc = 0
	out=$(cr "$uAdm" whoami 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" admin
	result $? lockout_admin_whoami "rc=$rc: $out"
	out=$(cr "$uB" kill "$jb" 2>&1); rc=$?
	wait_for 5 killed "$jb"
	expect lockout_other_user_kill "rc=$rc: $out; job $(field "$jb" state)" killed "$jb"
	hold "$uB" "$work/hold.B"
	hB=$!
	bgpids="$bgpids $hB"
	wait_for 10 held "$work/hold.B"
	out=$(head -n 1 "$work/hold.B")
	has "$out" '^held 12; refused: .*last 8 of max_clients = 40 are kept for admins (admin_clients)'
	result $? lockout_reserve_for_admins "$out"
	out=$(cr "$uB" whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" admin_clients
	result $? lockout_user_refused_names_cap "rc=$rc: $out"
	out=$(cr "$uAdm" whoami 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" admin
	result $? lockout_admin_whoami_in_reserve "rc=$rc: $out"
	out=$(cr "$uAdm" kill "$ja" 2>&1); rc=$?
	wait_for 5 killed "$ja"
	expect lockout_admin_kill_in_reserve "rc=$rc: $out; job $(field "$ja" state)" killed "$ja"
	kill "$hA" "$hB" 2>/dev/null
	wait "$hA" "$hB" 2>/dev/null
	bgpids=
}

# Connections that send no complete request are closed, with a reason;
# a follower waiting longer than that is not idle.
t_idle() {
	local out rc ms id
	for half in 0 1; do
		out=$(as "$uA" env IDLE_HALF=$half "$raw" "$CORRAL_SOCKET" idle 2>&1); rc=$?
		ms=$(printf '%s\n' "$out" | sed -n 's/.*closed after \([0-9]*\) ms.*/\1/p')
		expect "idle_closed_half_$half" "rc=$rc: $out" \
			test $rc = 0 -a "${ms:-0}" -ge 2500 -a "${ms:-0}" -lt 6000
	done
	id=$(cr "$uA" run -d -- sh -c 'sleep 5; echo late')
	out=$(cr "$uA" logs -f "$id" 2>&1); rc=$?
	expect idle_follower_kept "rc=$rc: $out" test $rc = 0 -a "$out" = late
}

t_lockout
t_idle

stop_instance

# --- instance 2: everything else ------------------------------------------

# t_followers attaches 100 followers of one user.
CORRAL_LOG_MAX=1G CORRAL_MAX_CLIENTS_PER_USER=256 CORRAL_REQUEST_BUFFER_MAX=4M \
	start_instance main

t_identity() {
	local out rc
	out=$(cr "$uA" run --name ident -- id -u)
	expect job_runs_as_user "id -u in the job: '$out', want $uidA" test "$out" = "$uidA"
	idA=$(sql "SELECT id FROM jobs WHERE name='ident'")
	out=$(cr "$uA" status ident); rc=$?
	[ $rc = 0 ] && has "$out" "^id: *$idA" && has "$out" "uid $uidA" && has "$out" 'state: *exited'
	result $? status_own_job "rc=$rc: $out"
	# No signal ignored in the job (but glibc's own 32 and 33): the
	# helper's SIG_IGN of SIGPIPE, or the INT and QUIT a shell ignores
	# in corrald's starter, would survive exec.
	out=$(cr "$uA" run -- grep '^SigIgn' /proc/self/status 2>/dev/null)
	local ign=${out##*[[:space:]]}
	expect job_ignores_no_signal "job: $out" \
		test -n "$ign" -a "$(( 0x${ign:-1} & ~(3 << 31) ))" = 0
	out=$(cr "$uA" run -- sh -c 'yes | head -n 1' 2>"$work/sigpipe.err"); rc=$?
	local err
	err=$(grep -v '^Running as job' "$work/sigpipe.err")
	expect job_pipeline_sigpipe "rc=$rc: $out; stderr: $err" \
		test "$rc" = 0 -a "$out" = y -a -z "$err"
}

# A member reaches corrald through the socket only: the state (database,
# every user's logs) and the setuid helper are the manager's alone, as
# the Debian package installs them.
t_private_state() {
	local out rc
	out=$(as "$uA" ls "$dir/state" 2>&1); rc=$?
	[ $rc != 0 ] && has "$out" 'Permission denied'
	result $? member_cannot_list_state "rc=$rc: $out"
	out=$(as "$uA" head -c 16 "$db" 2>&1); rc=$?
	[ $rc != 0 ] && has "$out" 'Permission denied'
	result $? member_cannot_read_db "rc=$rc: $out"
	out=$(as "$uA" "$dir/corral-helper" 2>&1); rc=$?
	[ $rc = 126 ] && has "$out" 'Permission denied'
	result $? member_cannot_exec_helper "rc=$rc: $out"
	out=$(cr "$uA" whoami 2>&1); rc=$?
	expect member_still_uses_socket "rc=$rc: $out" test $rc = 0
}

t_isolation() {
	local id out rc t0 fpid st
	id=$(cr "$uB" run -d --name bjob -- sh -c 'echo hello-from-B; exec sleep 60')
	wait_for 5 log_has "$id" hello-from-B "$uB"
	# A's listing holds A's jobs and not B's; asking for all (or for B's)
	# is refused or answered with A's own jobs only.
	out=$(cr "$uA" ps 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" "^${idA:0:8} " && ! has "$out" "${id:0:8}"
	result $? a_ps_hides_b "rc=$rc: $out"
	out=$(cr "$uA" ps -a 2>&1); rc=$?
	{ [ $rc = 125 ] && has "$out" admin; } || { [ $rc = 0 ] && ! has "$out" "${id:0:8}"; }
	result $? a_ps_all_hides_b "rc=$rc: $out"
	out=$(cr "$uA" ps --user "$uB" 2>&1); rc=$?
	{ [ $rc = 125 ] && has "$out" admin; } || { [ $rc = 0 ] && ! has "$out" "${id:0:8}"; }
	result $? a_ps_user_b_hides_b "rc=$rc: $out"
	out=$(cr "$uA" status "$id" 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'no such job'
	result $? a_status_b_refused "rc=$rc: $out"
	out=$(cr "$uA" status bjob 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'no such job'
	result $? a_status_b_by_name_refused "rc=$rc: $out"
	out=$(cr "$uA" logs "$id" 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'no such job' && ! has "$out" hello-from-B
	result $? a_logs_b_refused "rc=$rc: $out"
	out=$(cr "$uA" logs -f "$id" 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'no such job' && ! has "$out" hello-from-B
	result $? a_follow_b_refused "rc=$rc: $out"
	out=$(cr "$uA" wait "$id" 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'no such job'
	result $? a_wait_b_refused "rc=$rc: $out"
	out=$(cr "$uA" stop "$id" 2>&1); rc=$?
	sleep 0.2
	st=$(field "$id" state)
	[ $rc = 125 ] && has "$out" 'no such job' && [ "$st" = running ]
	result $? a_stop_b_refused "rc=$rc: $out; B's job is $st"
	out=$(cr "$uA" kill "$id" 2>&1); rc=$?
	expect a_kill_b_refused "rc=$rc: $out" test $rc = 125
	cr "$uAdm" ps -a >"$work/ps.adm"
	expect admin_ps_a_sees_b "admin's ps -a: $(cat "$work/ps.adm")" \
		grep -q "${id:0:8}.*running" "$work/ps.adm"
	cr "$uAdm" logs -f "$id" >"$work/adm.follow" 2>&1 &
	fpid=$!
	sleep 0.3
	t0=$(now_ns)
	cr "$uAdm" stop --grace 1s "$id"; rc=$?
	wait $fpid
	local frc=$?
	st=$(field "$id" state)
	[ $rc = 0 ] && [ "$st" = stopped ]
	result $? admin_stop_b "stop rc=$rc, state $st"
	[ $frc = 0 ] && grep -qx hello-from-B "$work/adm.follow"
	result $? admin_follow_b "logs -f rc=$frc, got: $(head -c 200 "$work/adm.follow")"
}

t_nonmember() {
	local out rc i miss=0 n
	out=$(cr "$uN" whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'cannot connect.*Permission denied'
	result $? nonmember_cannot_connect "rc=$rc: $out"
	# Past the file mode, corrald's own check must refuse and audit it.
	n=$(sql "SELECT count(*) FROM audit WHERE action='connect' AND uid=$uidN AND outcome='denied'")
	chmod 0666 "$CORRAL_SOCKET"
	out=$(cr "$uN" whoami 2>&1); rc=$?
	local n2
	n2=$(sql "SELECT count(*) FROM audit WHERE action='connect' AND uid=$uidN AND outcome='denied'")
	expect nonmember_refused_by_corrald "rc=$rc ($out), denied connect rows $n -> $n2" \
		test $rc = 125 -a "$n2" -gt "$n"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		out=$(cr "$uN" ps 2>&1)
		echo "$out" | grep -q "not in group" || { miss=$((miss + 1)); local last=$out; }
	done
	chmod 0660 "$CORRAL_SOCKET"
	expect nonmember_refusal_message "$miss of 10 refusals lost corrald's reason, e.g. '${last:-}'" \
		test $miss = 0
}

# audit_one NAME WANT USER CMD...: CMD as USER adds exactly the audit
# rows WANT ("action/outcome ...", oldest first).
audit_one() {
	local name=$1 want=$2 u=$3 before got
	shift 3
	before=$(sql "SELECT coalesce(max(id), 0) FROM audit")
	cr "$u" "$@" >/dev/null 2>&1
	got=$(sql "SELECT action || '/' || outcome FROM audit WHERE id > $before ORDER BY id" | tr '\n' ' ')
	got=${got% }
	expect "$name" "'corral $*' added audit rows '$got', want '$want'" test "$got" = "$want"
}

t_audit_each() {
	audit_one audit_row_run "run/ok follow/ok" "$uA" run -- true
	audit_one audit_row_run_detached "run/ok" "$uA" run -d -- true
	# refused by corrald itself (the CLI checks names and limits first):
	# 129 KB of arguments fit a message but not a job record
	local big more before got
	big=$(head -c 8000 /dev/zero | tr '\0' x)
	more=$(head -c 1200 /dev/zero | tr '\0' y)
	before=$(sql "SELECT COALESCE(MAX(id), 0) FROM audit")
	cr "$uA" run -- true "$big" "$big" "$big" "$big" "$big" "$big" "$big" \
		"$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" \
		"$more" >/dev/null 2>"$work/big.err"
	got=$(sql "SELECT action || '/' || outcome FROM audit WHERE id > $before ORDER BY id" | tr '\n' ' ')
	expect audit_row_run_refused "a 129 KB run added audit rows '${got% }' ($(head -c 200 "$work/big.err")), want 'run/error'" \
		test "${got% }" = "run/error"
	audit_one audit_row_status "status/ok" "$uA" status ident
	audit_one audit_row_status_unknown "status/error" "$uA" status no-such-job
	audit_one audit_row_list "list/ok" "$uA" ps
	audit_one audit_row_logs "follow/ok" "$uA" logs ident
	audit_one audit_row_wait "follow/ok" "$uA" wait ident
	audit_one audit_row_stop_final "stop/ok" "$uA" stop ident
	audit_one audit_row_kill_other "kill/error" "$uA" kill bjob
	audit_one audit_row_whoami "whoami/ok" "$uA" whoami
	audit_one audit_row_audit_denied "audit/denied" "$uA" audit
	audit_one audit_row_audit_admin "audit/ok" "$uAdm" audit --limit 1
	# The socket's mode keeps a non-member from reaching corrald at all.
	audit_one audit_row_connect_kernel "" "$uN" whoami
}

t_audit() {
	cr "$uAdm" audit --json --limit 100000 >"$work/audit.json"; local rc=$?
	local a=$work/audit.json
	expect audit_cli_admin "rc=$rc" test $rc = 0
	expect audit_has_run "no run/ok row of uid $uidA" \
		grep -q "\"uid\":$uidA,[^}]*\"action\":\"run\",[^}]*\"outcome\":\"ok\"" "$a"
	expect audit_has_status "no status/ok row of uid $uidA naming $idA" \
		grep -q "\"uid\":$uidA,[^}]*\"action\":\"status\",\"job_id\":\"$idA\",\"outcome\":\"ok\"" "$a"
	expect audit_has_denied_connect "no connect/denied row of uid $uidN" \
		grep -q "\"uid\":$uidN,[^}]*\"action\":\"connect\",[^}]*\"outcome\":\"denied\"" "$a"
	expect audit_has_refused_stop "no refused stop row of uid $uidA" \
		grep -q "\"uid\":$uidA,[^}]*\"action\":\"stop\",[^}]*\"outcome\":\"\(error\|denied\)\"[^}]*no such job" "$a"
	expect audit_has_admin_stop "no stop/ok row naming B's job" \
		test "$(sql "SELECT count(*) FROM audit a JOIN jobs j ON a.job_id = j.id
			WHERE a.action='stop' AND a.outcome='ok' AND j.name='bjob' AND j.uid=$uidB")" -ge 1
	# Every RUN ever acknowledged has its audit row, in the db too.
	expect audit_every_job_has_run_row "jobs without a run audit row" \
		test "$(sql "SELECT count(*) FROM jobs j WHERE NOT EXISTS
			(SELECT 1 FROM audit a WHERE a.job_id = j.id AND a.action='run')")" = 0
	local rows dbrows
	rows=$(grep -c '"action"' "$a")
	dbrows=$(sql "SELECT count(*) FROM audit WHERE id <= (SELECT max(id) FROM audit)")
	# The audit request itself is recorded too, so the db has one more or so.
	expect audit_cli_matches_db "cli $rows rows, db $dbrows" \
		test "$rows" -ge 10 -a "$rows" -le "$dbrows"
	local out
	out=$(cr "$uA" audit 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" corral:
	result $? audit_refused_for_user "rc=$rc: $out"
	expect audit_records_refused_audit "no denied audit row of uid $uidA" \
		test "$(sql "SELECT count(*) FROM audit WHERE action='audit' AND uid=$uidA AND outcome='denied'")" -ge 1
}

corrald_sockets() { ls -l "/proc/$CORRALD_PID/fd" 2>/dev/null | grep -c socket; }
enough_sockets() { [ "$(corrald_sockets)" -ge "$1" ]; }

t_followers() {
	local n=100 id i pids= bad_n=0 badrc=0 fds rss hwm
	seq 1 3000 >"$work/expected"
	id=$(cr "$uA" run -d --name fan -- sh -c \
		'sleep 2; i=1; while [ $i -le 3000 ]; do echo $i; [ $((i % 300)) = 0 ] && sleep 0.3; i=$((i + 1)); done')
	for i in $(seq 1 $n); do
		cr "$uA" logs -f "$id" >"$work/f.$i" 2>"$work/f.$i.err" &
		pids="$pids $!"
	done
	bgpids=$pids
	# Followers, plus the listening socket and the helper link.
	wait_for 4 enough_sockets $((n + 2))
	fds=$(corrald_sockets)
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$CORRALD_PID/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$CORRALD_PID/status")
	for p in $pids; do wait "$p" || badrc=$((badrc + 1)); done
	bgpids=
	for i in $(seq 1 $n); do
		cmp -s "$work/expected" "$work/f.$i" || bad_n=$((bad_n + 1))
	done
	expect followers_attached_at_once "corrald had $fds sockets open mid-job, want $((n + 2))" \
		test "$fds" -ge $((n + 2))
	expect followers_every_byte_in_order "$bad_n of $n followers differ, $badrc exited non-zero" \
		test $bad_n = 0 -a $badrc = 0
	echo "# corrald with $n followers attached: VmRSS $rss kB, VmHWM $hwm kB"
	MEASURE_RSS="VmRSS $rss kB, VmHWM $hwm kB"
}

t_interleave() {
	local want_all want_out want_err rc
	local job='for i in 1 2 3 4 5 6; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done'
	want_all=$(for i in 1 2 3 4 5 6; do echo out$i; echo err$i; done)
	want_out=$(seq -f 'out%g' 1 6)
	want_err=$(seq -f 'err%g' 1 6)
	cr "$uA" run -q --name inter -- sh -c "$job" >"$work/il.run" 2>&1; rc=$?
	expect order_run_attached "rc=$rc, got: $(tr '\n' ' ' <"$work/il.run")" \
		test "$(cat "$work/il.run")" = "$want_all"
	cr "$uA" logs inter >"$work/il.all" 2>&1
	expect order_logs "got: $(tr '\n' ' ' <"$work/il.all")" \
		test "$(cat "$work/il.all")" = "$want_all"
	cr "$uA" logs --stdout inter >"$work/il.o1" 2>"$work/il.o2"
	expect order_logs_stdout "stdout: $(tr '\n' ' ' <"$work/il.o1") stderr: $(cat "$work/il.o2")" \
		test "$(cat "$work/il.o1")" = "$want_out" -a ! -s "$work/il.o2"
	cr "$uA" logs --stderr inter >"$work/il.e1" 2>"$work/il.e2"
	expect order_logs_stderr "stderr: $(tr '\n' ' ' <"$work/il.e2") stdout: $(cat "$work/il.e1")" \
		test "$(cat "$work/il.e2")" = "$want_err" -a ! -s "$work/il.e1"
	cr "$uA" logs --stdout --stderr inter >"$work/il.b" 2>&1
	expect order_logs_both_flags "got: $(tr '\n' ' ' <"$work/il.b")" \
		test "$(cat "$work/il.b")" = "$want_all"
}

t_timeout() {
	local rc t0 t1 id
	t0=$(now_ns)
	cr "$uA" run --name tmo --timeout 1s -- sleep 30; rc=$?
	t1=$(now_ns)
	id=$(sql "SELECT id FROM jobs WHERE name='tmo' ORDER BY created_ms DESC LIMIT 1")
	expect timeout_timed_out "rc=$rc after $(((t1 - t0) / 1000000)) ms, state $(field "$id" state)" \
		test "$(field "$id" state)" = timed_out -a $rc = 124 \
		-a $(((t1 - t0) / 1000000)) -ge 900 -a $(((t1 - t0) / 1000000)) -lt 5000
}

t_stop() {
	local id rc t0 t1 ms
	id=$(cr "$uA" run -d -- sh -c 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done')
	wait_for 5 log_has "$id" ready "$uA"
	cr "$uA" stop "$id"; rc=$?
	cr "$uA" wait "$id"
	local wrc=$?
	expect stop_sends_term "stop rc=$rc, wait rc=$wrc (want 7), state $(field "$id" state), exit $(field "$id" exit_code)" \
		test $rc = 0 -a $wrc = 7 -a "$(field "$id" state)" = stopped -a "$(field "$id" exit_code)" = 7
	expect stop_trap_output "logs: $(cr "$uA" logs "$id" 2>&1 | tr '\n' ' ')" \
		log_has "$id" got-TERM "$uA"

	id=$(cr "$uA" run -d -- sh -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done')
	wait_for 5 log_has "$id" ready "$uA"
	t0=$(now_ns)
	cr "$uA" stop --grace 1s "$id"; rc=$?
	cr "$uA" wait "$id"
	local wrc=$?
	t1=$(now_ns)
	ms=$(((t1 - t0) / 1000000))
	expect stop_kills_after_grace "stop rc=$rc, wait rc=$wrc (want 137) after $ms ms, state $(field "$id" state), signal $(field "$id" signal)" \
		test $rc = 0 -a $wrc = 137 -a "$(field "$id" state)" = stopped \
		-a "$(field "$id" signal)" = 9 -a $ms -ge 900 -a $ms -lt 4000
	local out
	out=$(cr "$uA" stop "$id" 2>&1); rc=$?
	# Stopping an ended job is idempotent (systemctl stop, docker stop):
	# exit 0, with a note saying so.
	[ $rc = 0 ] && has "$out" "already ended"
	result $? stop_ended_job_idempotent "rc=$rc: $out"
}

t_exit_codes() {
	local spec cmd want rc id wrc nfailed
	for spec in '0:exit 0' '3:exit 3' '42:exit 42' '138:kill -USR1 $$' '137:kill -KILL $$'; do
		want=${spec%%:*} cmd=${spec#*:}
		cr "$uA" run -- sh -c "$cmd"; rc=$?
		id=$(cr "$uA" run -d -- sh -c "$cmd")
		cr "$uA" wait "$id"; wrc=$?
		expect "exit_code_$want" "'$cmd': run rc=$rc, wait rc=$wrc, want $want" \
			test $rc = "$want" -a $wrc = "$want"
	done
	nfailed=$(sql "SELECT count(*) FROM jobs WHERE uid=$uidA AND state='failed'")
	cr "$uA" run -- /nonexistent/command 2>"$work/nf.err"; rc=$?
	# The ERROR can reach corral before corrald has read the job's pipes
	# to EOF and written the row's end: wait for the row.
	wait_for 5 more_failed "$nfailed"
	id=$(sql "SELECT id FROM jobs WHERE uid=$uidA AND state='failed' ORDER BY created_ms DESC LIMIT 1")
	cr "$uA" wait "$id" 2>/dev/null; wrc=$?
	expect exit_code_127_not_found "run rc=$rc ($(cat "$work/nf.err")), wait rc=$wrc, stage $(field "$id" stage)" \
		test $rc = 127 -a $wrc = 127 -a "$(field "$id" stage)" = job-exec
	# The command is looked up in the job's PATH, not the helper's.
	cr "$uA" run --name pathprobe --env PATH=/nonexistent -- true 2>/dev/null; rc=$?
	id=$(sql "SELECT id FROM jobs WHERE name='pathprobe'")
	expect exit_code_127_job_path "run rc=$rc, stage $(field "$id" stage)" \
		test $rc = 127 -a "$(field "$id" stage)" = job-exec
}

# The soft controls: on this host no controller is usable, so a start
# that needs one fails naming it (126), yet what was asked is stored and
# shown by status and --json under the table's names.
t_soft_limits() {
	local out rc id js
	out=$(cr "$uA" run --name soft --cpu-weight 300 --io-weight 50 --memory-high 64M -- true 2>&1); rc=$?
	expect soft_refused_names_controller "rc=$rc: $out" \
		sh -c '[ "$1" = 126 ] && echo "$2" | grep -q "controller is not available"' _ "$rc" "$out"
	js=$(cr "$uA" status --json soft 2>&1)
	expect soft_json "$js" sh -c 'echo "$1" | grep -q "\"cpu_weight\":300" &&
		echo "$1" | grep -q "\"io_weight\":50" &&
		echo "$1" | grep -q "\"memory_high\":67108864"' _ "$js"
	out=$(cr "$uA" status soft 2>&1)
	expect soft_status_text "$out" sh -c 'echo "$1" | grep -q "memory-high 64 MiB, cpu-weight 300, io-weight 50"' _ "$out"
	out=$(cr "$uA" run --cpu-weight 0 -- true 2>&1); rc=$?
	expect soft_bad_weight_names_flag "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -q -- "--cpu-weight: \"0\" is below the minimum of 1"' _ "$rc" "$out"
	id=$(sql "SELECT id FROM jobs WHERE name='soft'")
	expect soft_stored "row: $(field "$id" "cpu_weight || '/' || io_weight || '/' || memory_high")" \
		test "$(field "$id" "cpu_weight || '/' || io_weight || '/' || memory_high")" = 300/50/67108864
}

# --private-tmp: the job sees an empty /tmp, /var/tmp and /run/user of its
# own (the user's bus sockets live in the last), and leaves nothing in the
# host's; without it, the host's /tmp is the job's.
t_private_tmp() {
	local out made=
	[ -d /run/user ] || { mkdir -m 0755 /run/user; made=1; }
	mkdir -p "/run/user/$uidA" && touch "/run/user/$uidA/bus-$sfx" "/tmp/crl-host-$sfx"
	out=$(cr "$uA" run -q --name ptmp --private-tmp -- sh -c \
		'ls -A /tmp | wc -l; ls -A /var/tmp | wc -l; ls -A /run/user | wc -l; echo hi >/tmp/crl-priv; cat /tmp/crl-priv' 2>&1)
	expect private_tmp_empty "$out" test "$(echo $out)" = "0 0 0 hi"
	expect private_tmp_left_nothing "host /tmp has crl-priv" test ! -e /tmp/crl-priv
	out=$(cr "$uA" status --json ptmp 2>&1)
	expect private_tmp_json "$out" has "$out" '"private_tmp":true'
	out=$(cr "$uA" run -- ls "/tmp/crl-host-$sfx" "/run/user/$uidA/bus-$sfx" 2>&1)
	expect shared_tmp_without_it "$out" has "$out" "bus-$sfx"
	rm -f "/tmp/crl-host-$sfx"
	rm -rf "/run/user/$uidA"
	[ -z "$made" ] || rmdir /run/user
}

t_cli() {
	local out rc
	out=$(cr "$uA" --help 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" 'usage: corral'
	result $? cli_help "rc=$rc"
	out=$(cr "$uA" run --help 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" '--timeout'
	result $? cli_run_help "rc=$rc"
	out=$(cr "$uA" --version 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" '[0-9]\.[0-9]'
	result $? cli_version "rc=$rc: $out"
	out=$(cr "$uA" run --memory 12Q -- true 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" '--memory' && has "$out" 12Q
	result $? cli_bad_value_names_flag "rc=$rc: $out"
	out=$(cr "$uA" run --timeout 5x -- true 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" '--timeout' && has "$out" 5x
	result $? cli_bad_timeout_names_flag "rc=$rc: $out"
	out=$(cr "$uA" 2>&1); rc=$?
	expect cli_no_command "rc=$rc" test $rc = 125
	out=$(cr "$uA" -V 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" '[0-9]\.[0-9]'
	result $? cli_version_short "rc=$rc: $out"
	out=$(cr "$uA" -Z 2>&1; cr "$uA" status -Z x 2>&1; cr "$uA" run --memory 1Q -- true 2>&1)
	! has "$out" 'corral: corral' && ! has "$out" 'corral corral'
	result $? cli_no_doubled_prefix "$out"
	# No GNU abbreviations: --time is not --timeout.
	out=$(cr "$uA" run --time 1:00 -- true 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'unknown option --time\b'
	result $? cli_no_abbreviations "rc=$rc: $out"
	local id
	id=$(cr "$uA" run -d --timeout 1h30m -- true)
	cr "$uA" wait "$id" >/dev/null
	expect cli_compound_duration "timeout_ms=$(field "$id" timeout_ms)" \
		test "$(field "$id" timeout_ms)" = 5400000
	out=$(cr "$uA" status 4e1 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" "4 characters"
	result $? cli_short_ref_says_minimum "rc=$rc: $out"
}

# ps and audit as people read them.
t_lists() {
	local out err rc ok fail long
	ok=$(cr "$uA" run -d -- true) fail=$(cr "$uA" run -d -- /nonexistent/cmd 2>/dev/null)
	[ -n "$fail" ] || fail=$(sql "SELECT id FROM jobs WHERE uid = $(id -u "$uA") AND state = 'failed' ORDER BY created_ms DESC LIMIT 1")
	cr "$uA" wait "$ok" >/dev/null
	out=$(cr "$uA" ps -q --state exited --state failed)
	has "$out" "$ok" && has "$out" "$fail" && ! has "$out" ' '
	result $? ps_states_ids "ok=$ok fail=$fail: $out"
	out=$(cr "$uA" ps --name no-such-name)
	expect ps_header_on_empty "$out" test "$(printf '%s' "$out" | head -n1 | awk '{print $1, $2, $NF}')" = "ID USER COMMAND"
	long=long-running-name-for-a-rather-long-job
	cr "$uA" run --name "$long" -- sh -c 'sleep 1.2' zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz >/dev/null
	out=$(COLUMNS=250 cr "$uA" ps --name "$long")
	has "$out" "$long" && has "$out" "$uA" && has "$out" ELAPSED && has "$out" 'zzzzzz$' &&
		printf '%s\n' "$out" | tail -n1 | grep -Eq ' 1\.[0-9]{3}s '
	result $? ps_full_width_and_elapsed "$(echo $out)"
	out=$(COLUMNS=130 cr "$uA" ps --name "$long" | tail -n1)
	has "$out" "$long" && has "$out" '\.\.\.$' && [ ${#out} -le 130 ]
	result $? ps_narrow_cuts_command_only "${#out}: $out"
	out=$(cr "$uA" ps --limit 1 2>"$work/ps.err"); err=$(cat "$work/ps.err")
	[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] && has "$err" "there are more"
	result $? ps_more_hint "$out / $err"
	out=$(cr "$uA" ps --state nope 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" "nope"
	result $? ps_bad_state "rc=$rc: $out"
	cr "$uA" run -- echo 'a b' "it's" c >/dev/null
	out=$(COLUMNS=300 cr "$uAdm" audit --user "$uA" --action run --since 10m --limit 1)
	has "$out" "$uA" && has "$out" " run " && has "$out" "echo 'a b' \"it's\" c"
	result $? audit_names_filters_full_argv "$out"
	out=$(cr "$uAdm" audit --user "$uA" --action nosuchaction)
	expect audit_filter_empty "$out" test "$(printf '%s\n' "$out" | wc -l)" = 1
	out=$(cr "$uAdm" audit --json --user "$uA" --limit 1)
	has "$out" "\"user\":\"$uA\""
	result $? audit_json_user "$out"
	out=$(cr "$uAdm" audit --since yesterdayish 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" "--since"
	result $? audit_bad_since "rc=$rc: $out"
	out=$(cr "$uAdm" audit --since 2026 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" "needs a unit"
	result $? audit_since_bare_number "rc=$rc: $out"
	# A command line of exactly 600 bytes is kept whole, one byte more is cut.
	local w595 w596
	w595=$(head -c 595 /dev/zero | tr '\0' a) w596=${w595}a
	cr "$uA" run -q -- echo "$w595" >/dev/null
	cr "$uA" run -q -- echo "$w596" >/dev/null
	out=$(COLUMNS=2000 cr "$uAdm" audit --user "$uA" --action run --limit 2)
	printf '%s\n' "$out" | sed -n 2p | grep -q "echo ${w595:0:592}\.\.\.$" &&
		printf '%s\n' "$out" | sed -n 3p | grep -q "echo ${w595}$"
	result $? audit_argv_cut_only_when_long "$out"
}

# What a user reads about one job: errors that name what failed, figures
# that are not made up, the job id of an attached run.
t_messages() {
	local out rc id
	out=$(cr "$uA" run --cwd /nonexistent-dir -- true 2>&1); rc=$?
	[ $rc = 126 ] && has "$out" "working directory /nonexistent-dir"
	result $? msg_cwd_names_dir "rc=$rc: $out"
	out=$(cr "$uA" run -- no-such-command-xyz 2>&1); rc=$?
	[ $rc = 127 ] && has "$out" "no-such-command-xyz: command not found"
	result $? msg_exec_names_command "rc=$rc: $out"
	out=$(cr "$uA" run -- /etc/passwd 2>&1); rc=$?
	[ $rc = 126 ] && has "$out" "cannot run /etc/passwd: Permission denied"
	result $? msg_exec_denied_names_command "rc=$rc: $out"
	out=$(cr "$uA" run -- echo hi 2>&1 >/dev/null)
	id=$(sql "SELECT id FROM jobs WHERE uid = $(id -u "$uA") ORDER BY created_ms DESC LIMIT 1")
	expect run_says_job_id "stderr: $out; newest job $id" test "$out" = "Running as job $id"
	out=$(cr "$uA" run -q -- echo hi 2>&1)
	expect run_quiet "$out" test "$out" = hi
	id=$(cr "$uA" run -d -- sh -c 'head -c 3000000 /dev/zero; echo done >&2; sleep 30')
	wait_for 5 log_has "$id" done "$uA"
	out=$(cr "$uA" status "$id" | grep '^output:')
	has "$out" "3000005 bytes stored"
	result $? status_live_output "$out"
	cr "$uA" kill "$id" >/dev/null
	cr "$uA" wait "$id" >/dev/null
	# This host has no memory controller: nothing to show, and no 0.
	local mnt
	mnt=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n1)
	if [ -n "$mnt" ] && ! grep -qw memory "$mnt/cgroup.controllers"; then
		out=$(cr "$uA" status "$id" | grep '^memory peak:'; cr "$uA" status --json "$id")
		has "$out" '^memory peak: *- ' && ! has "$out" '"memory_peak"'
		result $? status_unmeasured_peak "$out"
	fi
}

# Names belong to their user; several jobs per command.
t_names() {
	local out rc n ida idb ids d1 d2
	for n in 2024 add cafe; do
		out=$(cr "$uA" run --name "$n" -- echo "named $n" 2>&1); rc=$?
		[ $rc = 0 ] && has "$out" "named $n" &&
			[ "$(cr "$uA" logs "$n")" = "named $n" ]
		result $? "name_allowed_$n" "rc=$rc: $out"
	done
	idb=$(cr "$uB" run -d --name shared -- sleep 60)
	ida=$(cr "$uAdm" run -d --name shared -- sleep 60)
	cr "$uAdm" stop --grace 0 shared >/dev/null 2>&1; rc=$?
	cr "$uAdm" wait "$ida" >/dev/null
	expect name_is_callers_own "rc=$rc; admin's job $(field "$ida" state), B's $(field "$idb" state)" \
		test $rc = 0 -a "$(field "$ida" state)" = stopped -a "$(field "$idb" state)" = running
	out=$(cr "$uA" stop --user "$uB" shared 2>&1); rc=$?
	expect name_other_user_needs_admin "rc=$rc: $out; B's $(field "$idb" state)" \
		test $rc = 125 -a "$(field "$idb" state)" = running
	cr "$uAdm" stop --grace 0 --user "$uB" shared >/dev/null 2>&1; rc=$?
	cr "$uAdm" wait "$idb" >/dev/null
	expect name_admin_user_flag "rc=$rc; B's $(field "$idb" state)" \
		test $rc = 0 -a "$(field "$idb" state)" = stopped
	d1=$(cr "$uA" run -d --name dup -- sleep 60)
	d2=$(cr "$uA" run -d --name dup -- sleep 60)
	out=$(cr "$uA" status dup 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" "$d2"
	result $? name_means_newest "rc=$rc: $out"
	out=$(cr "$uA" stop --grace 0 dup 2>&1); rc=$?
	has "$out" "also running"
	result $? name_stop_notes_others "rc=$rc: $out"
	cr "$uA" stop --grace 0 dup >/dev/null 2>&1; rc=$?
	cr "$uA" wait "$d1" "$d2" >/dev/null
	expect name_stop_twice_stops_both "rc=$rc; $(field "$d1" state) $(field "$d2" state)" \
		test $rc = 0 -a "$(field "$d1" state)" = stopped -a "$(field "$d2" state)" = stopped
	d1=$(cr "$uA" run -d -- sh -c 'echo one')
	d2=$(cr "$uA" run -d -- sh -c 'echo two; exit 3')
	cr "$uA" wait "$d1" "$d2"; rc=$?
	expect multi_wait_first_failure "rc=$rc" test $rc = 3
	out=$(cr "$uA" logs "$d1" "$d2")
	expect multi_logs "$out" test "$out" = "$(printf 'one\ntwo')"
	out=$(cr "$uA" status "$d1" "$d2" | grep -c '^state:')
	expect multi_status "$out state lines" test "$out" = 2
	ids=$(for n in 1 2 3; do cr "$uA" run -d -- sleep 60; done)
	cr "$uA" stop --grace 0 $ids >/dev/null; rc=$?
	cr "$uA" wait $ids >/dev/null
	out=$(for d in $ids; do field "$d" state; done | sort -u)
	expect multi_stop "rc=$rc; states $out" test $rc = 0 -a "$out" = stopped
}

corrald_rss() { awk '/^VmRSS/ { print $2 }' "/proc/$CORRALD_PID/status"; }

# partial CONNS SEND OUT: rawclient's partial case as uA in the background
# (PARTIAL_PID); waits until its connections are open and sets GROW to
# corrald's RSS growth meanwhile (kB).
partial() {
	local before
	before=$(corrald_rss)
	as "$uA" env PARTIAL_CONNS="$1" PARTIAL_SEND="$2" PARTIAL_HOLD=3 \
		"$raw" "$CORRAL_SOCKET" partial >"$3" 2>&1 &
	PARTIAL_PID=$!
	wait_for 20 grep -q '^ready' "$3"
	GROW=$(($(corrald_rss) - before))
}

# Unfinished requests cost what was sent, never what a header claims, and
# all of them together stay within request_buffer_max (4M here).
t_partial() {
	local grow out rc
	partial 200 0 "$work/partial.hdr"
	grow=$GROW
	out=$(head -n 1 "$work/partial.hdr")
	rc=$(cr "$uB" whoami >/dev/null 2>&1; echo $?)
	wait $PARTIAL_PID
	echo "# 200 connections holding a header that claims 128 KiB: corrald RSS +$grow kB"
	expect partial_headers_cost_little "200 headers claiming 128 KiB each: RSS +$grow kB ($out)" \
		test "$grow" -lt 4096
	partial 64 98304 "$work/partial.body"
	grow=$GROW
	out=$(head -n 1 "$work/partial.body")
	rc="$rc/$(cr "$uB" whoami >/dev/null 2>&1; echo $?)"
	wait $PARTIAL_PID
	echo "# 64 connections holding 96 KiB of a request each: corrald RSS +$grow kB; $out"
	expect partial_budget_bounds_memory "64 x 96 KiB sent: RSS +$grow kB ($out)" \
		sh -c '[ "$1" -lt 10240 ] && echo "$2" | grep -q "refused [1-9][0-9]*: .*request_buffer_max = 4194304"' _ "$grow" "$out"
	expect partial_others_served "whoami of another user: $rc" test "$rc" = 0/0
}

t_rawclient() {
	local c out rc psrc pspid
	# A client stuck in the middle of a header must not hold anyone up.
	as "$uA" env STALL_SECONDS=3 "$raw" "$CORRAL_SOCKET" stall >"$work/raw.stall" &
	pspid=$!
	sleep 0.3
	for c in garbage bigbody badtype longarg notreq; do
		as "$uA" "$raw" "$CORRAL_SOCKET" $c >"$work/raw.$c" 2>&1 &
		local rp=$!
		timeout 5 setpriv --reuid="$uA" --regid=nogroup --init-groups \
			env CORRAL_SOCKET="$CORRAL_SOCKET" "$corral" ps >/dev/null 2>&1
		psrc=$?
		wait $rp; rc=$?
		out=$(cat "$work/raw.$c")
		expect "raw_$c" "rawclient rc=$rc: $out; parallel ps rc=$psrc" \
			test $rc = 0 -a $psrc = 0
		echo "# $out"
	done
	wait $pspid; rc=$?
	expect raw_stall "rc=$rc: $(cat "$work/raw.stall")" test $rc = 0
	expect raw_audited "no invalid/error audit rows" \
		test "$(sql "SELECT count(*) FROM audit WHERE action='invalid' AND uid=$uidA")" -ge 4
	expect raw_corrald_alive "corrald $CORRALD_PID gone" kill -0 "$CORRALD_PID"
}

cgroup_jobs_empty() { [ -z "$(find "$mnt$cgbase/jobs" -mindepth 2 -type d 2>/dev/null)" ]; }
no_user_procs() { ! pgrep -u "$uidA" >/dev/null; }
no_helper() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$dir/corral-helper" ] && return 1
	done
	return 0
}

t_crash() {
	local j1 j2 n
	j1=$(cr "$uA" run -d -- sleep 1000)
	j2=$(cr "$uA" run -d -- sleep 1000)
	n=$(pgrep -u "$uidA" -x sleep | wc -l)
	local cg
	cg=$(find "$mnt$cgbase/jobs" -mindepth 2 -type d | wc -l)
	expect crash_jobs_running "$n sleeps of $uA and $cg job cgroups before the kill, want 2 and 2" \
		test "$n" = 2 -a "$cg" = 2
	kill -9 "$CORRALD_PID"
	wait_for 5 no_user_procs
	expect crash_no_job_left "processes of $uA: $(pgrep -a -u "$uidA" | tr '\n' ' ')" no_user_procs
	wait_for 5 cgroup_jobs_empty
	expect crash_no_cgroup_left "left: $(find "$mnt$cgbase/jobs" -mindepth 2 -type d)" cgroup_jobs_empty
	wait_for 5 no_helper
	expect crash_helper_gone "a $dir/corral-helper still runs" no_helper
	local env
	env=$("$inst" restart "$dir") && eval "$env"
	expect crash_restart "instance.sh restart failed" test -n "$env"
	expect crash_jobs_lost "states: $(field "$j1" state)/$(field "$j1" error), $(field "$j2" state)/$(field "$j2" error)" \
		test "$(field "$j1" state)" = lost -a "$(field "$j2" state)" = lost \
		-a "$(field "$j1" error)" = "corrald restarted" -a "$(field "$j2" error)" = "corrald restarted"
	local rc
	cr "$uA" wait "$j1" 2>/dev/null; rc=$?
	expect crash_wait_lost_125 "wait rc=$rc" test $rc = 125
	local out
	out=$(cr "$uA" run -q -- echo after-restart 2>&1)
	expect crash_serves_after_restart "run after restart: $out" test "$out" = after-restart
}

# --- remote: corral --host ssh://... through a real sshd -------------------

# A real sshd (Debian's openssh-server) on 127.0.0.1 and a free port, with
# a throw-away host key, config and client keys; nothing leaves the
# machine.  The users run corral with CORRAL_SSH_OPTS="-F <ssh_config>"
# (their HOME is /nonexistent: the config names the key and known_hosts),
# and CORRAL_REMOTE_CORRAL pointing at this build; sshd's SetEnv gives
# dial-stdio the instance's socket.  Locally CORRAL_SOCKET names nothing,
# so only the far side can have answered.
listening() { ss -Hltn "sport = :$1" | grep -q .; }
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		listening "$p" || { echo "$p"; return 0; }
	done
	return 1
}
# rem USER [ENV=VALUE...] -- ARGS...: corral ARGS as USER against
# ssh://USER@127.0.0.1:$rport, with ENV in the environment.
rem() {
	local u=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	as "$u" env CORRAL_SOCKET=/nonexistent/local.sock \
		CORRAL_SSH_OPTS="-F $rdir/ssh_config" CORRAL_REMOTE_CORRAL="$corral" \
		"${envs[@]}" "$corral" --host "ssh://$u@127.0.0.1:$rport" "$@"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# lat_runs USER [ENV=VALUE...] -- N CMD...: N timed runs of CMD as USER, in us
# each ("fail" for a run that failed).
lat_runs() {
	local u=$1 n
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	n=$2
	shift 2
	as "$u" env "${envs[@]}" sh -c 'n=$1; shift; for i in $(seq 1 "$n"); do
		s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo fail; e=$(date +%s%N)
		echo $(((e - s) / 1000)); done' _ "$n" "$@"
}

t_remote() {
	local u out rc id fid t0 ms lout rout spid pid bad
	if [ ! -x /usr/sbin/sshd ]; then
		ok "t_remote skipped: no sshd"
		return
	fi
	rdir=$work/sshd
	mkdir -m 755 "$rdir" "$rdir/nossh"
	install -d -o "$uA" -m 700 "$rdir/cm"
	ssh-keygen -q -t ed25519 -N '' -C corral-test-host -f "$rdir/host_key"
	# sshd's StrictModes checks every directory above a key file, and /tmp
	# is world-writable: the authorized keys live under /run instead.
	rak=$(mktemp -d /run/corral-ak.XXXXXX)
	chmod 755 "$rak"
	cleanup_extra="rm -rf $rak"
	for u in $uA $uN $uAdm; do
		ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$rdir/id_$u"
		chown "$u" "$rdir/id_$u"
		install -o "$u" -m 600 "$rdir/id_$u.pub" "$rak/$u"
	done
	# uAdm's key can run dial-stdio and nothing else (docs/remote.md).
	printf 'command="%s dial-stdio",restrict %s\n' "$corral" "$(cat "$rdir/id_$uAdm.pub")" >"$rak/$uAdm"
	# uB has no key.  sshd refuses locked accounts ("!"), useradd's.
	for u in $uA $uB $uN $uAdm; do usermod -p '*' "$u"; done
	# The privilege separation directory the package's unit would make.
	[ -d /run/sshd ] || install -d -m 755 /run/sshd
	rport=$(free_port)
	cat >"$rdir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $rport
HostKey $rdir/host_key
PidFile none
AuthorizedKeysFile $rak/%u
StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $uA $uB $uN $uAdm
DisableForwarding yes
PermitTTY no
SetEnv CORRAL_SOCKET=$CORRAL_SOCKET
LogLevel ERROR
CONF
	echo "[127.0.0.1]:$rport $(cut -d' ' -f1,2 "$rdir/host_key.pub")" >"$rdir/known_hosts"
	cat >"$rdir/ssh_config" <<CONF
Host *
	UserKnownHostsFile $rdir/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	IdentitiesOnly yes
	IdentityFile $rdir/id_%u
	LogLevel ERROR
CONF
	/usr/sbin/sshd -D -e -f "$rdir/sshd_config" 2>"$rdir/sshd.log" &
	spid=$!
	bgpids="$bgpids $spid"
	if ! wait_for 5 listening "$rport"; then
		bad remote_sshd "sshd did not listen on 127.0.0.1:$rport: $(head -c 300 "$rdir/sshd.log")"
		return
	fi

	# Every command against the far side's corrald, as the SSH user.
	out=$(rem "$uA" -- run -- id -u 2>"$rdir/err"); rc=$?
	expect remote_run_as_ssh_user "rc=$rc, id -u '$out' (want $uidA): $(head -c 300 "$rdir/err")" \
		test $rc = 0 -a "$out" = "$uidA"
	rem "$uA" -- run -q -- sh -c 'exit 7' 2>/dev/null; rc=$?
	expect remote_exit_code "rc=$rc, want 7" test $rc = 7
	id=$(rem "$uA" -- run -d --name remote-f -- sh -c 'echo one; sleep 1; echo two' 2>/dev/null)
	out=$(rem "$uA" -- logs -f "$id" 2>"$rdir/err"); rc=$?
	expect remote_logs_follow "rc=$rc, state then $(field "$id" state), got: $(printf '%s' "$out" | tr '\n' ' ')" \
		test $rc = 0 -a "$out" = "one
two" -a "$(field "$id" state)" = exited
	out=$(rem "$uA" -- ps --json 2>"$rdir/err"); rc=$?
	[ $rc = 0 ] && has "$out" '^\[' && has "$out" "\"id\":\"$id\"," && has "$out" '"name":"remote-f"' &&
		has "$out" '^\]$'
	result $? remote_ps_json "rc=$rc: $(head -c 300 <<<"$out")"
	out=$(rem "$uA" -- status remote-f 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" "^id: *$id" && has "$out" 'state: *exited'
	result $? remote_status "rc=$rc: $(head -c 300 <<<"$out")"
	out=$(sql "SELECT uid || ' ' || detail FROM audit WHERE action='run' AND job_id='$id'")
	has "$out" "^$uidA sh -c 'echo one; sleep 1; echo two' name=remote-f via=ssh:127\.0\.0\.1:[0-9]*$"
	result $? remote_audit_via_ssh "audit row: $out"
	out=$(sql "SELECT detail FROM audit WHERE action='follow' AND job_id='$id' ORDER BY id DESC LIMIT 1")
	expect remote_audit_via_every_row "follow row: $out" has "$out" "^follow=1 via=ssh:127"
	fid=$id
	id=$(cr "$uA" run -d -- true)
	out=$(sql "SELECT detail FROM audit WHERE action='run' AND job_id='$id'")
	expect remote_audit_local_no_via "a local run's row: $out" not has "$out" via=
	out=$(rem "$uAdm" CORRAL_REMOTE_CORRAL=/nonexistent/corral -- audit --json --user "$uidA" \
		--action run --limit 3 2>&1); rc=$?
	[ $rc = 0 ] && has "$out" "name=remote-f via=ssh:127.0.0.1:"
	result $? remote_audit_forced_command "rc=$rc: $(head -c 300 <<<"$out")"
	out=$(as "$uA" env CORRAL_HOST="ssh://$uA@127.0.0.1:$rport" CORRAL_SOCKET=/nonexistent/local.sock \
		CORRAL_SSH_OPTS="-F $rdir/ssh_config" CORRAL_REMOTE_CORRAL="$corral" \
		"$corral" whoami --json 2>"$rdir/err"); rc=$?
	expect remote_corral_host_env "rc=$rc: $out" test $rc = 0 -a "$out" = "{\"uid\":$uidA,\"admin\":false}"
	# This machine's user names mean nothing there: --user takes a uid,
	# and uids are not named from this machine's passwd.
	out=$(rem "$uAdm" -- ps -q --user "$uA" 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'with --host give the uid'
	result $? remote_user_name_refused "rc=$rc: $out"
	out=$(rem "$uAdm" -- ps -q --user "$uidA" --name remote-f 2>/dev/null); rc=$?
	expect remote_user_uid "rc=$rc: $out (want $fid)" test $rc = 0 -a "$out" = "$fid"

	# stop, kill and wait, and an interrupt of an attached run: Ctrl-C
	# reaches corral's process group; corral sends STOP over a second ssh
	# connection, and the first one streams on to the job's end.
	id=$(rem "$uA" -- run -d -- sleep 60 2>/dev/null)
	rem "$uA" -- stop --grace 1s "$id" 2>/dev/null; rc=$?
	rem "$uA" -- wait "$id" 2>/dev/null
	local wrc=$?
	expect remote_stop_wait "stop rc=$rc, wait rc=$wrc (want 143), state $(field "$id" state)" \
		test $rc = 0 -a $wrc = 143 -a "$(field "$id" state)" = stopped
	id=$(rem "$uA" -- run -d -- sleep 60 2>/dev/null)
	rem "$uA" -- kill "$id" 2>/dev/null; rc=$?
	rem "$uA" -- wait "$id" 2>/dev/null; wrc=$?
	expect remote_kill "kill rc=$rc, wait rc=$wrc (want 137), state $(field "$id" state)" \
		test $rc = 0 -a $wrc = 137 -a "$(field "$id" state)" = killed
	setsid setpriv --reuid="$uA" --regid=nogroup --init-groups \
		env PATH=/usr/bin:/bin CORRAL_SOCKET=/nonexistent/local.sock \
		CORRAL_SSH_OPTS="-F $rdir/ssh_config" CORRAL_REMOTE_CORRAL="$corral" \
		"$corral" --host "ssh://$uA@127.0.0.1:$rport" run --name remote-int -- \
		sh -c 'trap "echo got-INT; exit 7" INT; echo ready; while :; do sleep 0.1; done' \
		>"$rdir/int.out" 2>"$rdir/int.err" </dev/null &
	pid=$!
	wait_for 10 grep -qs ready "$rdir/int.out"
	kill -INT -- -"$pid" 2>/dev/null
	wait "$pid"; rc=$?
	id=$(sql "SELECT id FROM jobs WHERE name='remote-int'")
	# Ctrl-C is the job's, through ssh too: its INT trap runs.
	[ $rc = 7 ] && grep -q got-INT "$rdir/int.out" && [ "$(field "$id" state)" = exited ]
	result $? remote_interrupt_forwarded "rc=$rc (want 7), state $(field "$id" state), out: $(tr '\n' ' ' <"$rdir/int.out"), err: $(tr '\n' ' ' <"$rdir/int.err")"

	# Clear errors, exit 125, and quickly: not in the group (the same
	# message as here), a wrong port, a refused key, no corral there, no
	# ssh here, and --socket naming the far side's socket.
	lout=$(cr "$uN" whoami 2>&1)
	rout=$(rem "$uN" -- whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$lout" 'cannot connect.*Permission denied' &&
		printf '%s\n' "$rout" | grep -qxF -- "$lout"
	result $? remote_nonmember_same_message "rc=$rc: '$rout', locally '$lout'"
	# corrald's own refusal (the socket's mode let uN through) comes back
	# through the relay, though corrald closed before reading a request.
	chmod 0666 "$CORRAL_SOCKET"
	out=$(rem "$uN" -- whoami 2>&1); rc=$?
	chmod 0660 "$CORRAL_SOCKET"
	[ $rc = 125 ] && has "$out" "^corral: uid $uidN is not in group $CORRAL_GROUP$"
	result $? remote_corrald_refusal "rc=$rc: $out"
	bad=$(free_port)
	t0=$(now_ns)
	out=$(as "$uA" env CORRAL_SSH_OPTS="-F $rdir/ssh_config" "$corral" \
		--host "ssh://$uA@127.0.0.1:$bad" whoami 2>&1); rc=$?
	ms=$((($(now_ns) - t0) / 1000000))
	[ $rc = 125 ] && [ $ms -lt 5000 ] && has "$out" "ssh could not reach ssh://$uA@127.0.0.1:$bad" &&
		has "$out" 'Connection refused'
	result $? remote_wrong_port "rc=$rc after $ms ms: $out"
	# An sshd that accepts and never speaks (stopped): CORRAL_TIMEOUT
	# bounds the wait, ssh's ConnectTimeout or corral's own.
	kill -STOP "$spid"
	t0=$(now_ns)
	out=$(rem "$uA" CORRAL_TIMEOUT=2 -- whoami 2>&1); rc=$?
	ms=$((($(now_ns) - t0) / 1000000))
	kill -CONT "$spid"
	[ $rc = 125 ] && [ $ms -lt 6000 ] && has "$out" "ssh://$uA@127.0.0.1:$rport"
	result $? remote_timeout_no_hang "rc=$rc after $ms ms: $out"
	out=$(rem "$uB" -- whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'Permission denied (publickey)' && has "$out" "ssh could not reach"
	result $? remote_auth_fails "rc=$rc: $out"
	out=$(rem "$uA" CORRAL_REMOTE_CORRAL=/nonexistent/corral -- whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'has no corral to run.*CORRAL_REMOTE_CORRAL'
	result $? remote_no_corral "rc=$rc: $out"
	out=$(rem "$uA" PATH="$rdir/nossh" -- whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'cannot run ssh: No such file or directory (is OpenSSH.s client installed'
	result $? remote_no_ssh "rc=$rc: $out"
	out=$(rem "$uA" -- --socket /nonexistent/far.sock whoami 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" '^corral: cannot connect to corrald at /nonexistent/far.sock' &&
		has "$out" "dial-stdio on ssh://$uA@127.0.0.1:$rport failed"
	result $? remote_socket_option "rc=$rc: $out"

	# The extra latency of a remote `corral run -- true` over ssh to this
	# host, with a new connection each time and with one reused (an ssh
	# ControlMaster), against a local run; medians of 10.
	local lat_l lat_r lat_m cm
	cm="-F $rdir/ssh_config -o ControlMaster=auto -o ControlPath=$rdir/cm/%C -o ControlPersist=10"
	lat_runs "$uA" CORRAL_SOCKET="$CORRAL_SOCKET" -- 10 "$corral" run -- true >"$rdir/lat.l"
	lat_runs "$uA" CORRAL_SSH_OPTS="-F $rdir/ssh_config" CORRAL_REMOTE_CORRAL="$corral" -- 10 \
		"$corral" --host "ssh://$uA@127.0.0.1:$rport" run -- true >"$rdir/lat.r"
	lat_runs "$uA" CORRAL_SSH_OPTS="$cm" CORRAL_REMOTE_CORRAL="$corral" -- 11 \
		"$corral" --host "ssh://$uA@127.0.0.1:$rport" run -- true | tail -n 10 >"$rdir/lat.m"
	as "$uA" ssh $cm -p "$rport" -l "$uA" -O exit 127.0.0.1 2>/dev/null
	expect remote_latency_runs "failed runs: local $(grep -c fail "$rdir/lat.l"), ssh $(grep -c fail "$rdir/lat.r"), reused $(grep -c fail "$rdir/lat.m")" \
		not grep -q fail "$rdir/lat.l" "$rdir/lat.r" "$rdir/lat.m"
	lat_l=$(median <"$rdir/lat.l") lat_r=$(median <"$rdir/lat.r") lat_m=$(median <"$rdir/lat.m")
	echo "# corral run -- true, median of 10: local $lat_l us; over ssh to 127.0.0.1 $lat_r us (+$((lat_r - lat_l)) us); reusing a ControlMaster connection $lat_m us (+$((lat_m - lat_l)) us)"
	MEASURE_REMOTE="+$((lat_r - lat_l)) us over ssh, +$((lat_m - lat_l)) us with a ControlMaster"

	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	bgpids=${bgpids/ $spid/}
	rm -rf "$rak"
	cleanup_extra=:
}

# --- measurements ---------------------------------------------------------

m_latency() {
	local runs=30
	as "$uA" sh -c "for i in \$(seq 1 $runs); do
		s=\$(date +%s%N); '$corral' run -- true || echo fail; e=\$(date +%s%N)
		echo \$(((e - s) / 1000))
	done" >"$work/lat"
	local med
	med=$(grep -v fail "$work/lat" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	expect latency_runs_ok "$(grep -c fail "$work/lat") of $runs runs failed" \
		not grep -q fail "$work/lat"
	echo "# median latency of 'corral run -- true' over $runs runs: $med us (min $(sort -n "$work/lat" | head -1), max $(sort -n "$work/lat" | tail -1))"
	MEASURE_LAT="$med us"
}

m_throughput() {
	local t0 t1 rc id lb
	t0=$(now_ns)
	cr "$uA" run --name bulk -- head -c 512M /dev/zero >/dev/null; rc=$?
	t1=$(now_ns)
	id=$(sql "SELECT id FROM jobs WHERE name='bulk' ORDER BY created_ms DESC LIMIT 1")
	lb=$(field "$id" log_bytes)
	expect throughput_all_logged "rc=$rc, log_bytes $lb, want 536870912" \
		test $rc = 0 -a "$lb" = 536870912
	local ms=$(((t1 - t0) / 1000000))
	local mibs=$((536870912 * 1000 / (ms > 0 ? ms : 1) / 1048576))
	echo "# 512 MiB through the log path (corral run, attached, to /dev/null): $ms ms, $mibs MiB/s"
	# The follower alone, from the page cache: logs of the finished job.
	t0=$(now_ns)
	cr "$uA" logs "$id" | wc -c >"$work/bulk.n"
	t1=$(now_ns)
	local ms2=$(((t1 - t0) / 1000000))
	expect throughput_logs_replay "replayed $(cat "$work/bulk.n") bytes" \
		test "$(cat "$work/bulk.n")" = 536870912
	echo "# replay of the stored 512 MiB (corral logs | wc -c): $ms2 ms, $((536870912 * 1000 / (ms2 > 0 ? ms2 : 1) / 1048576)) MiB/s"
	MEASURE_TPUT="$mibs MiB/s ($ms ms for 512 MiB)"
}

# The bash completion (packaging/corral.bash-completion) as a user's shell
# runs it: "comp MODE WORD..." sets COMP_WORDS to "corral WORD...",
# completes the last word and prints COMPREPLY one a line, as $uA.  MODE
# plain is bash alone, full has bash-completion loaded; COMP_USER runs it
# as another user, COMP_ENV adds a variable.
bash_completion=/usr/share/bash-completion/bash_completion
comp() {
	local mode=$1
	shift
	as "${COMP_USER:-$uA}" env PATH="$build:/usr/bin:/bin" ${COMP_ENV:+"$COMP_ENV"} bash --norc --noprofile -c '
		[ "$1" = full ] && . "$2"
		. "$3" || exit 1
		shift 3
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_corral corral "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$mode" "$bash_completion" "$top/packaging/corral.bash-completion" corral "$@"
}
# The lines of $1, sorted, on one line.
words() { printf '%s\n' "$1" | grep -v '^$' | sort | tr '\n' ' '; }

t_completion() {
	local a b out want mode modes=plain t0 ms err
	a=$(cr "$uA" run -d --name comp-alpha -- sleep 60)
	b=$(cr "$uB" run -d --name comp-beta -- sleep 60)
	if [ -r "$bash_completion" ]; then
		modes="plain full"
	else
		echo "# $bash_completion is missing (make deps): completion tested without it"
	fi
	want=$("$corral" run --help | grep -o -- '--mem[a-z-]*' | sort -u | tr '\n' ' ')
	for mode in $modes; do
		out=$(words "$(comp "$mode" st)")
		expect "comp_${mode}_commands" "corral st<TAB>: '$out'" test "$out" = "status stop "
		out=$(comp "$mode" stop '')
		expect "comp_${mode}_own_jobs" "corral stop <TAB>: $(words "$out"), want $a and comp-alpha" \
			sh -c 'echo "$1" | grep -qx "$2" && echo "$1" | grep -qx comp-alpha' _ "$out" "$a"
		expect "comp_${mode}_not_others_jobs" "corral stop <TAB>: $(words "$out"), has $uB's $b or comp-beta" \
			sh -c '! echo "$1" | grep -qx -e "$2" -e comp-beta' _ "$out" "$b"
		out=$(words "$(comp "$mode" run --mem)")
		expect "comp_${mode}_run_options" "corral run --mem<TAB>: '$out', want '$want' (run --help)" \
			sh -c '[ "$1" = "$2" ] && echo "$1" | grep -q -e "--memory " && echo "$1" | grep -q -e "--memory-high "' \
			_ "$out" "$want"
		out=$(comp "$mode" ps --state '')
		expect "comp_${mode}_states" "corral ps --state <TAB>: $(words "$out")" \
			sh -c 'echo "$1" | grep -qx running && echo "$1" | grep -qx exited' _ "$out"
		out=$(comp "$mode" run -- slee 2>/dev/null)
		expect "comp_${mode}_run_command" "corral run -- slee<TAB>: $(words "$out")" has "$out" '^sleep$'
	done
	out=$(comp plain stop --user "${uA%%a-*}")
	expect comp_user_names "corral stop --user ${uA%%a-*}<TAB>: $(words "$out")" \
		sh -c 'echo "$1" | grep -qx "$2" && echo "$1" | grep -qx "$3"' _ "$out" "$uA" "$uB"
	# An admin is offered its own jobs, and with --user U, U's.
	out=$(COMP_USER=$uAdm comp plain stop '')
	expect comp_admin_own_jobs "$uAdm: corral stop <TAB>: $(words "$out"), has $uA's $a or comp-alpha" \
		sh -c '! echo "$1" | grep -qx -e "$2" -e comp-alpha' _ "$out" "$a"
	out=$(COMP_USER=$uAdm comp plain stop --user "$uA" '')
	expect comp_admin_user_jobs "$uAdm: corral stop --user $uA <TAB>: $(words "$out"), want $a and comp-alpha only" \
		sh -c 'echo "$1" | grep -qx "$2" && echo "$1" | grep -qx comp-alpha && ! echo "$1" | grep -qx comp-beta' \
		_ "$out" "$a"
	out=$(comp plain rm '')
	expect comp_rm_not_running "corral rm <TAB> while $a runs: $(words "$out")" not has "$out" "^$a$"
	cr "$uA" kill "$a"
	cr "$uB" kill "$b"
	cr "$uA" wait "$a" >/dev/null 2>&1
	cr "$uB" wait "$b" >/dev/null 2>&1
	out=$(comp plain rm '')
	expect comp_rm_ended "corral rm <TAB> once $a ended: $(words "$out")" has "$out" "^$a$"

	# No corrald: nothing at all, at once.
	t0=$(now_ns)
	out=$(COMP_ENV="CORRAL_SOCKET=$work/no.sock" comp plain stop '' 2>"$work/comp.err")
	ms=$((($(now_ns) - t0) / 1000000))
	err=$(cat "$work/comp.err")
	expect comp_no_corrald "$ms ms, out '$out', err '$err'" \
		test "$ms" -lt 3000 -a -z "$out" -a -z "$err"
	# A corrald that does not answer: the short timeout, and silence.
	kill -STOP "$CORRALD_PID"
	t0=$(now_ns)
	out=$(comp plain stop '' 2>"$work/comp.err")
	ms=$((($(now_ns) - t0) / 1000000))
	kill -CONT "$CORRALD_PID"
	err=$(cat "$work/comp.err")
	echo "# completing JOB with corrald stopped (SIGSTOP): $ms ms"
	expect comp_hung_corrald "$ms ms, out '$out', err '$err'" \
		test "$ms" -lt 4000 -a -z "$out" -a -z "$err"
}

MEASURE_RSS=? MEASURE_LAT=? MEASURE_TPUT=? MEASURE_REMOTE=?
t_identity
t_private_state
t_isolation
t_nonmember
t_audit
t_audit_each
t_followers
t_interleave
t_timeout
t_stop
t_exit_codes
t_partial
t_private_tmp
t_soft_limits
t_cli
t_names
t_lists
t_messages
t_rawclient
t_remote
m_latency
m_throughput
t_crash
t_completion

stop_instance

# --- instance 3: retention ----------------------------------------------------

CORRAL_CONF_EXTRA="log_keep = 4s
job_keep = 9s
audit_keep = 9s
user_log_space = 100K
log_space = 1G" start_instance ret
ret_t0=$(now_ns)

t_rm() {
	local a b run out rc
	a=$(cr "$uA" run -d -- echo a)
	b=$(cr "$uB" run -d -- echo b)
	run=$(cr "$uA" run -d -- sleep 100)
	cr "$uA" wait "$a" >/dev/null; cr "$uB" wait "$b" >/dev/null
	out=$(cr "$uA" rm "$run" 2>&1); rc=$?
	expect rm_running_refused "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -q "has not ended: stop it first"' _ "$rc" "$out"
	out=$(cr "$uA" rm "$b" 2>&1); rc=$?
	expect rm_other_users_refused "rc=$rc: $out" test "$rc" = 125 -a -n "$(field "$b" state)"
	cr "$uA" rm "$a"; rc=$?
	expect rm_own_deleted "rc=$rc, row: '$(field "$a" state)', log there: $(ls "$dir/state/logs/$a.log" 2>/dev/null)" \
		sh -c '[ "$1" = 0 ] && [ -z "$2" ] && [ ! -e "$3" ]' _ "$rc" "$(field "$a" state)" "$dir/state/logs/$a.log"
	cr "$uAdm" rm "$b"; rc=$?
	expect rm_admin_any "rc=$rc, row '$(field "$b" state)'" test "$rc" = 0 -a -z "$(field "$b" state)"
	expect rm_audited "rm rows: $(sql "SELECT count(*) FROM audit WHERE action='rm' AND outcome='ok'")" \
		test "$(sql "SELECT count(*) FROM audit WHERE action='rm' AND outcome='ok'")" = 2
	cr "$uA" kill "$run" >/dev/null; cr "$uA" wait "$run" >/dev/null 2>&1
}

# 60 KiB of output per job against a 100K per-user quota: pruning keeps
# the newest; later log_keep, job_keep and audit_keep take the rest.
t_retention() {
	local j1 j2 j3 out rc t0
	# corrald's first retention pass comes 1 s after its start: these
	# jobs must end after it, or it prunes them before the dry run looks
	# (fast starts made that a race).
	while [ $(($(now_ns) - ret_t0)) -lt 1500000000 ]; do sleep 0.1; done
	t0=$(date +%s)
	j1=$(cr "$uA" run -d -- head -c 61440 /dev/zero)
	cr "$uA" wait "$j1" >/dev/null
	j2=$(cr "$uA" run -d -- head -c 61440 /dev/zero)
	cr "$uA" wait "$j2" >/dev/null
	j3=$(cr "$uA" run -d -- head -c 61440 /dev/zero)
	cr "$uA" wait "$j3" >/dev/null
	out=$(cr "$uA" prune 2>&1); rc=$?
	expect prune_admins_only "rc=$rc: $out" test "$rc" = 125
	out=$(cr "$uAdm" prune --dry-run 2>&1); rc=$?
	expect prune_dry_run "rc=$rc: $out; logs there: $(ls "$dir/state/logs" | wc -l)" \
		sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "^would delete 2 log(s)" && [ -e "$3" ]' \
		_ "$rc" "$out" "$dir/state/logs/$j1.log"
	out=$(cr "$uAdm" prune 2>&1)
	expect prune_user_quota "$out; deleted: $(field "$j1" log_deleted_ms)/$(field "$j2" log_deleted_ms)/$(field "$j3" log_deleted_ms)" \
		sh -c '[ -n "$1" ] && [ -n "$2" ] && [ -z "$3" ] && [ ! -e "$4" ]' \
		_ "$(field "$j1" log_deleted_ms)" "$(field "$j2" log_deleted_ms)" "$(field "$j3" log_deleted_ms)" \
		"$dir/state/logs/$j1.log"
	out=$(cr "$uA" logs "$j1" 2>&1); rc=$?
	expect prune_logs_says_deleted "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -q "was deleted"' _ "$rc" "$out"
	out=$(cr "$uA" status "$j1" 2>&1)
	expect prune_status_says_deleted "$out" has "$out" '^log: *deleted'
	out=$(cr "$uA" logs "$j3" 2>/dev/null | wc -c)
	expect prune_newest_kept "$out bytes" test "$out" = 61440
	sleep $((t0 + 5 - $(date +%s)))
	cr "$uAdm" prune >/dev/null
	expect prune_log_keep "j3 log deleted: '$(field "$j3" log_deleted_ms)'" test -n "$(field "$j3" log_deleted_ms)"
	sleep $((t0 + 10 - $(date +%s)))
	out=$(cr "$uAdm" prune 2>&1)
	expect prune_job_keep "$out; rows left: $(sql "SELECT count(*) FROM jobs WHERE id IN ('$j1','$j2','$j3')")" \
		test "$(sql "SELECT count(*) FROM jobs WHERE id IN ('$j1','$j2','$j3')")" = 0
	expect prune_audit_keep "audit rows older than 9 s: $(sql "SELECT count(*) FROM audit WHERE time_ms < $(((t0 - 1) * 1000))")" \
		test "$(sql "SELECT count(*) FROM audit WHERE time_ms < $(((t0 - 1) * 1000))")" = 0
	expect prune_audited "prune rows: $(sql "SELECT count(*) FROM audit WHERE action='prune'")" \
		test "$(sql "SELECT count(*) FROM audit WHERE action='prune'")" -ge 1
}
t_rm
t_retention

stop_instance

# --- instance 4: the queue ---------------------------------------------------

# A global running cap of 4 (the helper's max_jobs, which corrald
# follows) and 2 per user: jobs past a cap wait in the queue.
CORRAL_MAX_JOBS=4 CORRAL_USER_MAX_JOBS=2 start_instance queue

# Slots held (starting or running) in all and by the busiest user, as
# corrald records them: a slot is held from the start until the end is
# recorded.
held() {
	sql "SELECT (SELECT count(*) FROM jobs WHERE state IN ('starting', 'running')),
		(SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n FROM jobs
			WHERE state IN ('starting', 'running') GROUP BY uid))"
}

# Three users submit 20 jobs each at once: all run, within the caps, and
# the turns are fair from the start.
t_queue_fair() {
	local u i t0 max_all=0 max_user=0 s a b ok=0 bad=0 first
	t0=$(now_ns)
	for u in $uA $uB $uAdm; do
		for i in $(seq 20); do
			(cr "$u" run -q --name fair -- sleep 0.3 >/dev/null 2>&1; echo $? >>"$work/fair.rc") &
		done
	done
	# Sample until every job has ended (at most 60 s).
	for i in $(seq 1200); do
		s=$(held)
		a=${s%|*} b=${s#*|}
		[ "$a" -gt $max_all ] && max_all=$a
		[ "$b" -gt $max_user ] && max_user=$b
		[ "$(sql "SELECT count(*) FROM jobs WHERE name = 'fair' AND state = 'exited'")" = 60 ] && break
		sleep 0.05
	done
	wait
	ok=$(grep -c '^0$' "$work/fair.rc")
	bad=$(grep -vc '^0$' "$work/fair.rc")
	expect queue_fair_all_exit_0 "$ok of 60 exited 0, $bad did not" test "$ok" = 60 -a "$bad" = 0
	expect queue_fair_global_cap "at most $max_all held at once, want <= 4" test "$max_all" -le 4
	expect queue_fair_global_cap_used "at most $max_all held at once, want 4 at some point" test "$max_all" = 4
	expect queue_fair_user_cap "one user held $max_user at once, want <= 2" test "$max_user" -le 2
	first=$(sql "SELECT uid, count(*) FROM (SELECT uid FROM jobs WHERE name = 'fair'
		ORDER BY started_ms LIMIT 12) GROUP BY uid" | tr '\n' ' ')
	[ "$(sql "SELECT count(*) FROM (SELECT uid, count(*) AS n FROM (SELECT uid FROM jobs
		WHERE name = 'fair' ORDER BY started_ms LIMIT 12) GROUP BY uid) WHERE n >= 3")" = 3 ]
	result $? queue_fair_turns "uid|starts among the first 12: $first"
	expect queue_fair_audited "queue rows $(sql "SELECT count(*) FROM audit WHERE action = 'queue'"), dequeue rows $(sql "SELECT count(*) FROM audit WHERE action = 'dequeue'")" \
		test "$(sql "SELECT count(*) FROM audit WHERE action = 'queue'")" -ge 10 \
		-a "$(sql "SELECT count(*) FROM audit WHERE action = 'queue'")" = "$(sql "SELECT count(*) FROM audit WHERE action = 'dequeue'")"
	echo "# 60 x sleep 0.3 by 3 users, cap 4 (2 per user): $((($(now_ns) - t0) / 1000000)) ms"
	# From a slot freeing (the last end before a queued job's start) to
	# that job running, for every job that waited in the queue.
	sql "SELECT j.started_ms - (SELECT max(e.ended_ms) FROM jobs e WHERE e.ended_ms <= j.started_ms)
		FROM jobs j WHERE j.name = 'fair' AND j.id IN (SELECT job_id FROM audit WHERE action = 'dequeue')" \
		| sort -n >"$work/gap"
	echo "# slot freed -> next queued job running: median $(awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }' "$work/gap") ms over $(wc -l <"$work/gap") starts (max $(tail -1 "$work/gap") ms)"
}

# 100 attached runs through 16 parallel clients, every exit code right.
t_queue_xargs() {
	local wrong
	as "$uA" sh -c "seq 100 | xargs -P16 -I{} sh -c '\"$corral\" run -q -- sh -c \"exit \\\$(({}%3))\"; echo {} \$?'" \
		>"$work/xargs.out" 2>"$work/xargs.err"
	wrong=$(awk '$2 != $1 % 3' "$work/xargs.out" | head -3 | tr '\n' ' ')
	expect queue_xargs_100_codes "$(wc -l <"$work/xargs.out") results, wrong: $wrong $(head -c 300 "$work/xargs.err")" \
		test "$(wc -l <"$work/xargs.out")" = 100 -a -z "$wrong"
}

qstate() { [ "$(field "$1" state)" = "$2" ]; }

# A queued job says why it waits and where it is; stop cancels it;
# --no-queue fails at once; attached, corral says it is queued.
t_queue_stop_and_no_queue() {
	local s1 s2 q out rc t0 t1
	s1=$(cr "$uA" run -d -- sleep 100)
	s2=$(cr "$uA" run -d -- sleep 100)
	q=$(cr "$uA" run -d -- echo never)
	expect queue_detach_returns_queued "state of $q: $(field "$q" state)" qstate "$q" queued
	out=$(cr "$uA" status "$q")
	has "$out" '^waiting: *waiting for a slot: 2 of 2 running for uid' && has "$out" '^position: *1$'
	result $? queue_status_says_why "$out"
	out=$(cr "$uA" ps --state queued)
	expect queue_ps_position "$out" has "$out" "queued #1"
	out=$(cr "$uA" ps --json --state queued)
	expect queue_ps_json_position "$out" has "$out" '"position":1'
	t0=$(now_ns)
	out=$(cr "$uA" run --no-queue -- true 2>&1); rc=$?
	t1=$(now_ns)
	[ $rc = 126 ] && has "$out" 'too many jobs' && [ $(((t1 - t0) / 1000000)) -lt 2000 ]
	result $? queue_no_queue_fails_fast "rc=$rc in $(((t1 - t0) / 1000000)) ms: $out"
	out=$(cr "$uA" stop "$q" 2>&1); rc=$?
	[ $rc = 0 ] && qstate "$q" cancelled && [ "$(field "$q" error)" = "stopped while queued" ] &&
		[ -z "$(field "$q" started_ms)" ]
	result $? queue_stop_cancels "rc=$rc: $out; state $(field "$q" state), error $(field "$q" error)"
	expect queue_cancel_audited "cancel rows of $q: $(sql "SELECT count(*) FROM audit WHERE action = 'cancel' AND job_id = '$q'")" \
		test "$(sql "SELECT count(*) FROM audit WHERE action = 'cancel' AND job_id = '$q'")" = 1
	cr "$uA" wait "$q" >/dev/null 2>&1; rc=$?
	expect queue_wait_cancelled_125 "rc=$rc" test $rc = 125
	# Attached and queued: it says so, then runs when a slot frees.
	(cr "$uA" run -- echo attached-ran >"$work/att.out" 2>"$work/att.err"; echo $? >"$work/att.rc") &
	wait_for 5 sh -c "grep -q 'queued (position 1)' '$work/att.err'"
	expect queue_attached_says_queued "stderr: $(cat "$work/att.err")" \
		grep -q "queued (position 1): waiting for a slot" "$work/att.err"
	cr "$uA" kill "$s1" >/dev/null
	wait_for 10 test -s "$work/att.rc"
	expect queue_attached_runs_after "rc $(cat "$work/att.rc" 2>/dev/null), out $(cat "$work/att.out")" \
		test "$(cat "$work/att.rc" 2>/dev/null)" = 0 -a "$(cat "$work/att.out")" = attached-ran
	out=$(cr "$uA" run -q -- echo quiet 2>&1 >/dev/null)
	cr "$uA" kill "$s2" >/dev/null
}

# --after waits for the end, whatever it is; --after-ok for exit 0,
# else the job is cancelled with the reason; a name works as a reference.
t_queue_after() {
	local j1 j2 j3 j4 out rc
	j1=$(cr "$uA" run -d --name first -- sh -c 'sleep 0.5; exit 3')
	j2=$(cr "$uA" run -d --after first -- echo after-any)
	j3=$(cr "$uA" run -d --after-ok "$j1" -- echo never)
	expect queue_after_waits "states $(field "$j2" state) $(field "$j3" state), after_id $(field "$j2" after_id)" \
		test "$(field "$j2" state)" = queued -a "$(field "$j3" state)" = queued -a "$(field "$j2" after_id)" = "$j1"
	out=$(cr "$uA" status "$j2")
	expect queue_after_status "$out" has "$out" "^waiting: *waiting for job $j1 to end"
	cr "$uA" wait "$j2" >/dev/null 2>&1; rc=$?
	[ $rc = 0 ] && [ "$(field "$j2" started_ms)" -ge "$(field "$j1" ended_ms)" ] &&
		[ "$(cr "$uA" logs "$j2")" = after-any ]
	result $? queue_after_runs_after_end "rc=$rc, started $(field "$j2" started_ms), first ended $(field "$j1" ended_ms)"
	wait_for 5 qstate "$j3" cancelled
	has "$(field "$j3" error)" "exit code 3, not 0"
	result $? queue_after_ok_cancelled "state $(field "$j3" state): $(field "$j3" error)"
	# The job waited for has failed already: cancelled at once.
	out=$(cr "$uA" run --after-ok "$j1" -- echo never 2>&1); rc=$?
	[ $rc = 125 ] && has "$out" 'was cancelled: .*exit code 3'
	result $? queue_after_ok_failed_already "rc=$rc: $out"
	j4=$(cr "$uA" run -d --after-ok "$j2" -- echo ok-chain)
	cr "$uA" wait "$j4" >/dev/null 2>&1; rc=$?
	expect queue_after_ok_runs "rc=$rc, state $(field "$j4" state)" test $rc = 0
	out=$(cr "$uB" run --after "$j1" -- true 2>&1); rc=$?
	expect queue_after_other_users_job "rc=$rc: $out" \
		sh -c '[ "$1" = 125 ] && echo "$2" | grep -q "no such job"' _ "$rc" "$out"
}

# Queued jobs are in the store: they survive corrald's restart (the
# running ones end) and start after it.
t_queue_restart() {
	local s1 s2 q1 q2 env rc
	s1=$(cr "$uB" run -d -- sleep 100)
	s2=$(cr "$uB" run -d -- sleep 100)
	q1=$(cr "$uB" run -d -- echo survived-1)
	q2=$(cr "$uB" run -d --after "$q1" -- echo survived-2)
	expect queue_restart_queued "states $(field "$q1" state) $(field "$q2" state)" \
		test "$(field "$q1" state)" = queued -a "$(field "$q2" state)" = queued
	kill "$CORRALD_PID"
	env=$("$inst" restart "$dir") && eval "$env"
	expect queue_restart_restarted "instance.sh restart failed" test -n "$env"
	cr "$uB" wait "$q2" >/dev/null 2>&1; rc=$?
	[ $rc = 0 ] && qstate "$q1" exited && [ "$(cr "$uB" logs "$q1")" = survived-1 ] &&
		[ "$(cr "$uB" logs "$q2")" = survived-2 ]
	result $? queue_restart_started_after "rc=$rc, states $(field "$q1" state) $(field "$q2" state)"
	expect queue_restart_running_ended "states of the running ones: $(field "$s1" state) $(field "$s2" state)" \
		sh -c '[ "$1" != running ] && [ "$2" != running ] && [ "$1" != queued ]' _ "$(field "$s1" state)" "$(field "$s2" state)"
}

t_queue_fair
t_queue_xargs
t_queue_stop_and_no_queue
t_queue_after
t_queue_restart

stop_instance

# --- instance 5: signals, hang-up, exit codes, environment (own file) ------
# (run.sh has cd'd to /: the path is from the tree's top.)
if [ -r "$top/tests/integration/t_signals.sh" ]; then
	. "$top/tests/integration/t_signals.sh"
else
	bad t_signals "$top/tests/integration/t_signals.sh is missing"
fi

# --- reloads and restarts: an instance of their own (own file) -------------
. "$top/tests/integration/t_restart.sh"
# --- a crash or a restart under the fd store: an instance of their own -----
. "$top/tests/integration/t_crash.sh"

# --- the start path's savings: an instance of their own (own file) --------
. "$top/tests/integration/t_perf.sh"
# --- -i and -t: an instance of their own (own file) ------------------------
if [ -r "$top/tests/integration/t_tty.sh" ]; then
	. "$top/tests/integration/t_tty.sh"
else
	bad t_tty "$top/tests/integration/t_tty.sh is missing"
fi

# --- --network: an instance in a network namespace of its own (own file) ---
if [ -r "$top/tests/integration/t_network.sh" ]; then
	. "$top/tests/integration/t_network.sh"
else
	bad t_network "$top/tests/integration/t_network.sh is missing"
fi

echo "# measurements: latency $MEASURE_LAT; log throughput $MEASURE_TPUT; corrald RSS with 100 followers: $MEASURE_RSS; remote run: $MEASURE_REMOTE; yes | head -3 returned in ${MEASURE_HANGUP:-?}; stop of 601 processes: ${MEASURE_STOP_MANY:-?}; reload: ${MEASURE_RELOAD:-?}"
finish
