#!/bin/sh
# make bench: corral against bare floors, measured side by side in one run
# on a private instance (tests/instance.sh).  Prints a markdown table and
# saves it to $BUILD/bench/results.md.  See docs/bench.md.
#
#   BENCH_QUICK=1     a smaller, faster run (about 2 minutes)
#   BENCH_FANOUT_FOLLOWERS, BENCH_FANOUT_BYTES, BENCH_LOG_BYTES,
#   BENCH_FILL_JOBS, BENCH_FILL_AUDIT, BENCH_RUNNING   override the sizes
#
# Run it under flock /run/corral-test.lock (make bench does): the test
# helper's policy path is fixed, so one instance runs at a time.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
export BUILD=$build
bin=$build/bench
inst=$top/tests/instance.sh
out=$bin/results.md

die() { echo "bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (private instance, cgroups)"
for p in corrald corral corral-helper-test bench/bench-start bench/bench-tput \
	bench/bench-fanout bench/bench-keylat bench/fsyncshim.so; do
	[ -e "$build/$p" ] || die "$build/$p is missing: run make bench"
done
command -v bwrap >/dev/null || die "bwrap is missing: run make deps (bubblewrap)"
command -v sqlite3 >/dev/null || die "sqlite3 is missing: run make deps"

MiB=1048576
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	rounds=20 tsecs=1.5 log_bytes=$((256 * MiB)) log_reps=1
	fan_n=1000 fan_bytes=$((10 * MiB)) fill_jobs=20000 fill_audit=200000
	running=200 short=200 qruns=10 qjobs=200 batch=200 batch_reps=1 build_reps=1 keys=200
else
	rounds=50 tsecs=4 log_bytes=$((1024 * MiB)) log_reps=3
	fan_n=10000 fan_bytes=$((10 * MiB)) fill_jobs=100000 fill_audit=1000000
	running=1000 short=1000 qruns=20 qjobs=1000 batch=200 batch_reps=3 build_reps=3 keys=1000
fi
log_bytes=${BENCH_LOG_BYTES:-$log_bytes}
fan_n=${BENCH_FANOUT_FOLLOWERS:-$fan_n}
fan_bytes=${BENCH_FANOUT_BYTES:-$fan_bytes}
fill_jobs=${BENCH_FILL_JOBS:-$fill_jobs}
fill_audit=${BENCH_FILL_AUDIT:-$fill_audit}
running=${BENCH_RUNNING:-$running}

dir=$(mktemp -d /tmp/corral-bench.XXXXXX)
user=crl-bench-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
rows=$dir/rows
notes=$dir/notes
net_ns=crlbench-${user#crl-bench-}
cleanup() {
	"$inst" stop "$dir" >/dev/null 2>&1 || true
	userdel "$user" 2>/dev/null || true
	ip netns del "$net_ns" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say() { printf '%s\n' "bench: $*" >&2; }

# --- the instance ------------------------------------------------------

export CORRAL_LOG_MAX=$((log_bytes + 64 * MiB))
export CORRAL_MAX_JOBS=$((running + 64))
# The instance runs in a network namespace of its own with a bridge, for
# --network's row (1c); corrald and its helper need no network otherwise.
. "$top/tests/netns.sh"
net_bridge "$net_ns" br-bench 10.97.0.1/22 || die "cannot make the namespace $net_ns"
antispoof=yes
command -v nft >/dev/null || antispoof=no
net_section bench bridge=br-bench subnet=10.97.0.0/22 gateway=10.97.0.1 \
	pool=10.97.0.10-10.97.3.250 "users=$user" max_per_user=1000 \
	"antispoof=$antispoof" >"$dir.net"
eval "$(CORRAL_NETNS=$net_ns CORRAL_POLICY_EXTRA=$dir.net "$inst" start "$dir")"
rm -f "$dir.net"
export CORRAL_SOCKET
. "$dir/instance.env"	# mgr, mgrp, ugrp: the manager user, its group, the socket group
useradd -M -N -g "$CORRAL_GROUP" -d /tmp -s /bin/sh "$user"
uid=$(id -u "$user")
gid=$(getent group "$CORRAL_GROUP" | cut -d: -f3)
# Everything the job user or the manager user runs lives in the instance
# directory (0755), not in the build tree, which they may not reach.
mkdir -p "$dir/bin"
cp "$build/corral" "$bin/bench-fanout" "$bin/fsyncshim.so" "$dir/bin/"
chmod 755 "$dir/bin" "$dir/bin/corral" "$dir/bin/bench-fanout"
chmod 644 "$dir/bin/fsyncshim.so"
corral=$dir/bin/corral
# 10,000 followers are 10,000 clients of one user; corrald's defaults
# are 1024 in all and 64 per user.
echo "max_clients = $((fan_n + 256))" >>"$dir/corrald.conf"
echo "max_clients_per_user = $((fan_n + 256))" >>"$dir/corrald.conf"

as_user() {
	setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" PATH=/usr/bin:/bin "$@"
}

# Stop corrald (its helper kills its jobs) and start it again; extra
# environment for corrald may be given as NAME=VALUE arguments.
restart_corrald() {
	kill "$CORRALD_PID" 2>/dev/null || true
	eval "$(env "$@" "$inst" restart "$dir")"
}

stop_corrald() {
	kill "$CORRALD_PID"
	i=0
	while [ -d "/proc/$CORRALD_PID" ] && ! grep -q '^State:.*Z' "/proc/$CORRALD_PID/status" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || die "corrald does not stop"
		sleep 0.05
	done
}

rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# --- numbers and the table ----------------------------------------------

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
# met if A OP B (OP: le, lt, ge), else "not met"
verdict() {
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		ok = (op == "le" && a <= b) || (op == "lt" && a < b) || (op == "ge" && a >= b)
		print (ok ? "met" : "**not met**") }'
}
# row NUM MEASUREMENT CORRAL REFERENCE RATIO TARGET RESULT
row() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$rows"; }
note() { printf '%s\n' "$*" >>"$notes"; }
ms() { calc "$1 / 1000" 2; }
field() { awk -v n="$1" '$1 == n { print $'"$2"' }'; }

: >"$rows"
: >"$notes"
idle_rss=$(rss_kib "$CORRALD_PID" VmRSS)

# --- 1. start latency --------------------------------------------------

say "1. start latency, $rounds rounds"
bw="--unshare-all --ro-bind / / --dev /dev --proc /proc true"
"$bin/bench-start" -n "$rounds" -u "$uid" -g "$gid" floor \
	"corral=$corral run -- true" "bwrap=bwrap $bw" "bwrap-root@root=bwrap $bw" \
	"corral-net=$corral run -q --network bench -- true" >"$dir/start.out"
for k in floor corral bwrap bwrap-root corral-net; do
	[ "$(field "$k" 6 <"$dir/start.out")" = 0 ] || die "start latency: $k failed (see above)"
done
f=$(field floor 2 <"$dir/start.out")
c=$(field corral 2 <"$dir/start.out")
b=$(field bwrap 2 <"$dir/start.out")
br=$(field bwrap-root 2 <"$dir/start.out")
bmin=$(awk -v a="$b" -v b="$br" 'BEGIN { print (a < b ? a : b) }')
r=$(calc "$c / $f")
row 1a "start: \`corral run -- true\` vs bare clone3 (median of $rounds)" "$(ms "$c") ms" \
	"floor $(ms "$f") ms" "$r x" "<= 2x" "$(verdict "$r" le 2)"
r=$(calc "$c / $bmin")
row 1b "start: \`corral run -- true\` vs bwrap --unshare-all" "$(ms "$c") ms" \
	"bwrap $(ms "$b") ms (user), $(ms "$br") ms (root)" "$r x" "< 1x (the faster bwrap)" \
	"$(verdict "$r" lt 1)"
cn=$(field corral-net 2 <"$dir/start.out")
add=$(calc "($cn - $c) / 1000" 1)
row 1c "start: \`corral run --network bench -- true\` vs \`corral run -- true\` (antispoof $antispoof)" \
	"$(ms "$cn") ms" "$(ms "$c") ms" "$(calc "$cn / $c") x (+$add ms)" "<= +50 ms" \
	"$(verdict "$add" le 50)"
note "start latency, us (name median p10 p90 runs failures):"
note "$(sed 's/^/    /' "$dir/start.out")"

# --- 2. start throughput -------------------------------------------------

say "2. start throughput, ${tsecs}s per point"
for n in 1 8 32; do
	fl=$("$bin/bench-tput" -c "$n" -t "$tsecs" floor)
	co=$("$bin/bench-tput" -c "$n" -t "$tsecs" -u "$uid" -g "$gid" corral)
	fj=${fl%% *} cj=${co%% *}
	r=$(calc "$cj / $fj")
	row 2 "throughput: jobs/s, $n concurrent client(s)" "$cj/s" "floor $fj/s" \
		"$r x" ">= 0.6x" "$(verdict "$r" ge 0.6)"
	eval "tput_$n=\$cj floor_$n=\$fj"
done
# Where the time goes: fsyncs counted (then skipped) by an LD_PRELOAD shim.
shim=$dir/bin/fsyncshim.so
stats=$dir/run/fsync.stats
restart_corrald LD_PRELOAD="$shim" BENCH_FSYNC=count BENCH_FSYNC_STATS="$stats"
cnt=$("$bin/bench-tput" -c 1 -t "$tsecs" -u "$uid" -g "$gid" corral)
# Group commit shares one sync among the starts and ends of a loop turn:
# the syncs per job with 8 and 32 clients.
for n in 8 32; do
	restart_corrald LD_PRELOAD="$shim" BENCH_FSYNC=count BENCH_FSYNC_STATS="$dir/run/fsync.$n"
	gc=$("$bin/bench-tput" -c "$n" -t "$tsecs" -u "$uid" -g "$gid" corral)
	stop_corrald
	read -r gcalls _ <"$dir/run/fsync.$n"
	gjobs=$(echo "$gc" | cut -d" " -f2)
	eval "fs_$n=$(calc "$gcalls / $gjobs" 2)"
done
restart_corrald LD_PRELOAD="$shim" BENCH_FSYNC=skip BENCH_FSYNC_STATS="$dir/run/skip.stats"
jobs=$(echo "$cnt" | cut -d' ' -f2)
c1_run=$(echo "$cnt" | cut -d' ' -f4) c1_wait=$(echo "$cnt" | cut -d' ' -f5)
read -r fs_calls fs_ns <"$stats"
fs_per_job=$(calc "$fs_calls / $jobs" 1)
fs_us=$(calc "$fs_ns / $fs_calls / 1000" 0)
job_us=$(calc "1000000 / ${cnt%% *}" 0)
note ""
note "throughput, where the time goes (1 client):"
note "    corral: $job_us us per job (RUN->STARTED $c1_run us, STARTED->end $c1_wait us, the rest the driver)"
note "    floor:  $(calc "1000000 / $floor_1" 0) us per job (mkdir cgroup, clone3, exec, wait, rmdir)"
note "    fsync:  $fs_per_job fsyncs per job x $fs_us us = $(calc "$fs_per_job * $fs_us" 0) us per job ($(calc "100 * $fs_per_job * $fs_us / $job_us" 0)% of it)"
note "    group commit: $fs_8 fsyncs per job with 8 clients, $fs_32 with 32"
for n in 1 8 32; do
	sk=$("$bin/bench-tput" -c "$n" -t "$tsecs" -u "$uid" -g "$gid" corral)
	eval "fl=\$floor_$n co=\$tput_$n"
	note "    fsync skipped, $n client(s): ${sk%% *} jobs/s (with fsync $co, floor $fl)"
done
restart_corrald

# --- 3. log capture ------------------------------------------------------

say "3. log capture, $log_bytes bytes x $log_reps"
now() { date +%s%N; }
: >"$dir/log.corral"; : >"$dir/log.floor"; : >"$dir/read.corral"; : >"$dir/read.floor"
for i in $(seq "$log_reps"); do
	t0=$(now)
	head -c "$log_bytes" /dev/zero | cat >"$dir/state/floor.bin"
	t1=$(now)
	echo $(( log_bytes * 1000000000 / (t1 - t0) )) >>"$dir/log.floor"
	rm -f "$dir/state/floor.bin"
	t0=$(now)
	id=$(as_user "$corral" run -d -- head -c "$log_bytes" /dev/zero)
	as_user "$corral" wait "$id"
	t1=$(now)
	stored=$(as_user "$corral" status --json "$id" | sed -n 's/.*"log_bytes": *\([0-9]*\).*/\1/p')
	[ "$stored" = "$log_bytes" ] || die "log capture: stored ${stored:-?} of $log_bytes bytes"
	echo $(( stored * 1000000000 / (t1 - t0) )) >>"$dir/log.corral"
	# Reading it back: corral logs against cat of the log file itself.
	t0=$(now)
	as_user "$corral" logs "$id" >/dev/null
	t1=$(now)
	echo $(( stored * 1000000000 / (t1 - t0) )) >>"$dir/read.corral"
	t0=$(now)
	cat "$dir/state/logs/$id.log" | cat >/dev/null
	t1=$(now)
	echo $(( stored * 1000000000 / (t1 - t0) )) >>"$dir/read.floor"
	rm -f "$dir/state/logs/$id.log" 2>/dev/null || true
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
lc=$(med "$dir/log.corral") lf=$(med "$dir/log.floor")
r=$(calc "$lc / $lf")
row 3 "log capture: \`head -c $((log_bytes / MiB))M /dev/zero\` stored" \
	"$(calc "$lc / $MiB" 0) MiB/s" "\`| cat > file\` $(calc "$lf / $MiB" 0) MiB/s" \
	"$r x" ">= 0.5x" "$(verdict "$r" ge 0.5)"
rc=$(med "$dir/read.corral") rf=$(med "$dir/read.floor")
r=$(calc "$rc / $rf")
row 3b "log read: \`corral logs\` of that log" \
	"$(calc "$rc / $MiB" 0) MiB/s" "\`cat log | cat\` $(calc "$rf / $MiB" 0) MiB/s" \
	"$r x" ">= 0.5x" "$(verdict "$r" ge 0.5)"

# --- 4. fan-out ----------------------------------------------------------

say "4. fan-out: $fan_n followers x $fan_bytes bytes"
restart_corrald		# a fresh VmHWM
go=$dir/go-fanout
id=$(as_user "$corral" run -d --name fanout -- "$dir/bin/bench-fanout" gen "$fan_bytes" "$go")
"$bin/bench-fanout" follow -n "$fan_n" -p "$CORRALD_PID" -g "$go" "$id" "$fan_bytes" \
	>"$dir/fan.out" || die "fan-out failed: $(cat "$dir/fan.out")"
fv() { awk -v k="$1" '$1 == k { print $2 }' "$dir/fan.out"; }
hwm=$(fv corrald_hwm_kib)
cpu=$(fv corrald_cpu_s)
el=$(fv elapsed_s)
deliv=$(( $(fv ok) * fan_bytes ))
row 4a "fan-out: $fan_n followers x $((fan_bytes / MiB)) MiB, all bytes in order" \
	"$(fv ok) of $fan_n ok" "-" "-" "all" "$(verdict "$(fv ok)" ge "$fan_n")"
row 4b "fan-out: corrald peak RSS (VmHWM)" "$(calc "$hwm / 1024" 1) MiB" "-" "-" \
	"< 64 MiB" "$(verdict "$hwm" lt 65536)"
row 4c "fan-out: corrald CPU per delivered byte" \
	"$(calc "$cpu * 1000000000 / $deliv" 3) ns/B" \
	"$(calc "$deliv / $MiB / $el" 0) MiB/s delivered" "-" "report" "-"
note ""
note "fan-out: $(tr '\n' ' ' <"$dir/fan.out")"

# --- 6a. memory with running jobs ----------------------------------------

say "6. memory: $running running jobs"
restart_corrald
seq "$running" | as_user xargs -P 4 -I{} "$corral" run -d -- sleep 600 >/dev/null
nrun=$(as_user "$corral" ps --state running --limit 100000 | tail -n +2 | wc -l)
[ "$nrun" -ge "$running" ] || die "only $nrun of $running jobs running"
run_rss=$(rss_kib "$CORRALD_PID" VmRSS)
row 6a "memory: corrald RSS with $running running jobs" "$(calc "$run_rss / 1024" 1) MiB" \
	"idle $(calc "$idle_rss / 1024" 1) MiB" \
	"$(calc "($run_rss - $idle_rss) / $running" 1) KiB/job" "< 64 MiB" "$(verdict "$run_rss" lt 65536)"

# --- 5. queries on a big database ----------------------------------------

say "5. queries: $fill_jobs jobs, $fill_audit audit rows"
stop_corrald
now_ms=$(( $(date +%s) * 1000 ))
cat >"$dir/fill.sql" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $fill_jobs)
INSERT INTO jobs (id, uid, user, name, state, argv, env, cwd, ns_off, pid,
	created_ms, started_ms, ended_ms, exit_code, wstatus, oom_kills,
	cpu_usec, memory_peak, log_bytes, log_dropped)
SELECT printf('%08x-%04x-4%03x-%04x-%012x', abs(random()) % 4294967296,
	abs(random()) % 65536, abs(random()) % 4096, 32768 + abs(random()) % 16384, i),
	CASE WHEN i % 2 = 0 THEN $uid ELSE 2000 + i % 100 END,
	CASE WHEN i % 2 = 0 THEN '$user' ELSE 'u' || (2000 + i % 100) END,
	CASE WHEN i % 10 = 0 THEN 'build' || (i % 1000) END,
	'exited',
	CAST('sh' || char(0) || '-c' || char(0) || 'make -j4 target' || i || char(0) AS BLOB),
	CAST('PATH=/usr/bin:/bin' || char(0) || 'HOME=/home/u' || char(0) AS BLOB),
	'/home/u/src', 0, 1000 + i % 30000,
	$now_ms - ($fill_jobs - i) * 1000, $now_ms - ($fill_jobs - i) * 1000 + 5,
	$now_ms - ($fill_jobs - i) * 1000 + 900, i % 3, (i % 3) * 256, 0,
	12345 + i, 4194304, 1000 + i % 5000, 0
FROM c;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $fill_audit)
INSERT INTO audit (time_ms, uid, pid, action, job_id, outcome, detail)
SELECT $now_ms - ($fill_audit - i) * 100, 2000 + i % 100, 1000 + i % 30000,
	CASE i % 4 WHEN 0 THEN 'run' WHEN 1 THEN 'status' WHEN 2 THEN 'list' ELSE 'follow' END,
	CASE WHEN i % 4 != 2 THEN (SELECT id FROM jobs WHERE rowid = 1 + i % $fill_jobs) END,
	'ok', NULL
FROM c;
COMMIT;
SELECT id FROM jobs WHERE uid = $uid ORDER BY created_ms LIMIT 1 OFFSET $((fill_jobs / 4));
SQL
t0=$(now)
qid=$(setpriv --reuid="$mgr" --regid="$mgrp" --init-groups sqlite3 -batch \
	"$dir/state/corral.db" <"$dir/fill.sql" | tail -n 1)
t1=$(now)
note ""
note "database fill: $fill_jobs jobs + $fill_audit audit rows in $(calc "($t1 - $t0) / 1000000000" 1) s (sqlite3, one transaction)"
restart_corrald
fill_rss=$(rss_kib "$CORRALD_PID" VmRSS)
"$bin/bench-start" -n "$qruns" -u "$uid" -g "$gid" "ps=$corral ps" \
	"status=$corral status $qid" "whoami=$corral whoami" >"$dir/query.out"
for k in ps status whoami; do
	[ "$(field "$k" 6 <"$dir/query.out")" = 0 ] || die "query $k failed"
done
nps=$(as_user "$corral" ps | tail -n +2 | wc -l)
w=$(field whoami 2 <"$dir/query.out")
for k in ps status; do
	q=$(field "$k" 2 <"$dir/query.out")
	what="\`corral $k\`"
	[ "$k" = ps ] && what="$what ($nps rows)"
	row 5 "query: $what, $fill_jobs jobs / $fill_audit audit rows (median of $qruns)" \
		"$(ms "$q") ms" "\`corral whoami\` $(ms "$w") ms" "-" "< 50 ms" "$(verdict "$q" lt 50000)"
done
note ""
note "queries, us (name median p10 p90 runs failures):"
note "$(sed 's/^/    /' "$dir/query.out")"

# --- 6b. memory after history --------------------------------------------

say "6. memory: $short short jobs on the big database"
"$bin/bench-tput" -c 8 -t 600 -j "$short" -u "$uid" -g "$gid" corral >/dev/null
hist_rss=$(rss_kib "$CORRALD_PID" VmRSS)
g=$((hist_rss - idle_rss))
row 6b "memory: RSS after $fill_jobs-job db + $short short jobs" "$(calc "$hist_rss / 1024" 1) MiB" \
	"idle $(calc "$idle_rss / 1024" 1) MiB" "+$(calc "$g / 1024" 1) MiB" "growth < 4 MiB" \
	"$(verdict "$g" lt 4096)"
note ""
note "memory, VmRSS KiB: idle $idle_rss, $running running $run_rss, after restart on the filled db $fill_rss, after $short more jobs $hist_rss"

# --- 7. the queue --------------------------------------------------------

# The same short jobs, 16 at a time, with room for all of them and with a
# running cap of 4 (corrald's max_running), so that most wait in the queue.
say "7. queue: $qjobs \`true\` jobs, 16 at a time, cap 4 and uncapped"
qbatch() {
	t0=$(now)
	seq "$qjobs" | as_user xargs -P 16 -I{} "$corral" run -q --name "$1" -- true \
		|| die "queue: a $1 job failed"
	t1=$(now)
	echo $(( (t1 - t0) / 1000 ))
}
restart_corrald
qfree=$(qbatch qfree)
echo "max_running = 4" >>"$dir/corrald.conf"
restart_corrald
qcap=$(qbatch qcap)
sed -i '/^max_running = 4$/d' "$dir/corrald.conf"
r=$(calc "$qfree / $qcap")
row 7a "queue: $qjobs \`true\` jobs, 16 clients, cap 4 (most queued)" \
	"$(calc "$qjobs * 1000000 / $qcap" 1)/s" "uncapped $(calc "$qjobs * 1000000 / $qfree" 1)/s" \
	"$r x" "report" "-"
# From a slot freeing (the last end before it) to a queued job running.
setpriv --reuid="$mgr" --regid="$mgrp" --init-groups sqlite3 -batch "$dir/state/corral.db" \
	"SELECT j.started_ms - (SELECT max(e.ended_ms) FROM jobs e WHERE e.ended_ms <= j.started_ms)
	 FROM jobs j WHERE j.name = 'qcap' AND j.id IN
	 (SELECT job_id FROM audit WHERE action = 'dequeue')" | sort -n >"$dir/qgap"
qg=$(med "$dir/qgap")
row 7b "queue: slot freed -> next queued job running (median of $(wc -l <"$dir/qgap"); the store keeps ms)" \
	"${qg:-?} ms" "-" "-" "report" "-"

# --- 8. a batch through the CLI -------------------------------------------

# What a pipeline does: xargs -P 8 of short `corral run -- true`, each a
# CLI process, against the floor starting as many jobs in 8 threads.
say "8. batch: $batch \`corral run -- true\` through xargs -P 8, against $batch floor jobs in 8 threads"
: >"$dir/batch.corral"; : >"$dir/batch.floor"
for i in $(seq "$batch_reps"); do
	"$bin/bench-tput" -c 8 -t 600 -j "$batch" floor | cut -d' ' -f1 >>"$dir/batch.floor"
	t0=$(now)
	seq "$batch" | as_user xargs -P 8 -I{} "$corral" run -q -- true \
		|| die "batch: a job failed"
	t1=$(now)
	calc "$batch * 1000000000 / ($t1 - $t0)" 1 >>"$dir/batch.corral"
	echo >>"$dir/batch.corral"
done
bc=$(med "$dir/batch.corral") bf=$(med "$dir/batch.floor")
r=$(calc "$bc / $bf")
row 8 "batch: $batch \`corral run -q -- true\`, \`xargs -P 8\` (median of $batch_reps)" \
	"$bc/s" "floor in 8 threads $bf/s" "$r x" "report" "-"

# --- 9. a real build ------------------------------------------------------

# This project built with make -j4, every recipe line a job: make's SHELL
# is a wrapper that runs `corral run -q -- /bin/sh -c LINE` (make gives a
# custom SHELL every line, with no direct exec).  Against the same build
# with a SHELL that runs `setsid /bin/sh -c LINE`: corral's init calls
# setsid(2) for each job, and with the scheduler's autogroups (the
# default) each setsid is one share of the CPU, so on a busy machine
# corral's lines would get more CPU than plain make's, which would all
# share make's one autogroup.
# The tree is a copy the job user owns.
say "9. build: make -j4 programs, every recipe line through corral run, x $build_reps"
src=$dir/src
mkdir -p "$src"
tar -C "$top" -cf - --exclude='*.o' --exclude='*.d' \
	Makefile common helper manager client schema packaging | tar -x -C "$src"
cat >"$dir/bin/corral-sh" <<EOS
#!/bin/sh
exec $corral run -q --name mkjob -- /bin/sh "\$@"
EOS
cat >"$dir/bin/setsid-sh" <<EOS
#!/bin/sh
exec setsid /bin/sh "\$@"
EOS
chmod 755 "$dir/bin/corral-sh" "$dir/bin/setsid-sh"
chown -R "$uid:$gid" "$src"
mkb() { # mkb BUILDDIR [SHELL=...]: seconds*1e6 of a clean build
	rm -rf "$src/$1"
	t0=$(now)
	(cd "$src" && as_user make -s -j4 BUILD="$1" ${2:+"$2"} programs >/dev/null) \
		|| die "build: make failed (${2:-plain})"
	t1=$(now)
	echo $(( (t1 - t0) / 1000 ))
}
: >"$dir/mk.plain"; : >"$dir/mk.corral"
for i in $(seq "$build_reps"); do
	mkb bp SHELL="$dir/bin/setsid-sh" >>"$dir/mk.plain"
	mkb bc SHELL="$dir/bin/corral-sh" >>"$dir/mk.corral"
done
mkjobs=$(setpriv --reuid="$mgr" --regid="$mgrp" --init-groups sqlite3 -batch \
	"$dir/state/corral.db" "SELECT count(*) FROM jobs WHERE name = 'mkjob'")
mkjobs=$((mkjobs / build_reps))
mp=$(med "$dir/mk.plain") mc=$(med "$dir/mk.corral")
row 9 "build: \`make -j4 programs\` of corral, each of its $mkjobs recipe lines a \`corral run\` (median of $build_reps)" \
	"$(calc "$mc / 1000000" 2) s" "make, each line \`setsid sh\` $(calc "$mp / 1000000" 2) s" \
	"$(calc "$mc / $mp") x" "report" \
	"$(calc "($mc - $mp) / $mkjobs / 1000" 2 | sed 's/^[0-9]/+&/') ms wall per job"

# --- 10. against systemd-run, in the package tier's VM ----------------------

# The booted-systemd Debian VM of make check-pkg measures both, side by side
# (tests/pkg/pkgtest.sh, step startbench); booting it takes minutes under
# TCG, so this row reads the latest check-pkg run's console results.
pkgres=$build/pkg/results.txt
# No results file at all (no check-pkg run yet): sed fails, and set -e
# would end the run here without a word.
sb=$(sed -n 's/^@@R startbench ok //p' "$pkgres" 2>/dev/null || true)
if [ -n "$sb" ]; then
	sbv() { echo "$sb" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	r=$(sbv ratio)
	row 10 "start in a booted-systemd VM (TCG): \`corral run -- true\` vs \`systemd-run --wait --pipe -q true\` (median of $(sbv rounds); make check-pkg of $(date -u -r "$pkgres" '+%Y-%m-%d %H:%M UTC'))" \
		"$(ms "$(sbv corral_us)") ms" "systemd-run $(ms "$(sbv systemd_run_us)") ms" \
		"$r x" "< 1x" "$(verdict "$r" lt 1)"
else
	row 10 "start in a booted-systemd VM: corral vs systemd-run" "-" "-" "-" "< 1x" \
		"not measured: run make check-pkg first"
fi

# --- 11. keystroke round trip through -t -----------------------------------

# A byte typed into corral's terminal until its echo (the job's pty's)
# is back on it: client -> corrald -> pty -> corrald -> log -> client.
# The floor is a bare pty's own echo.
say "11. keystroke round trip, $keys keys"
kf=$("$bin/bench-keylat" -n "$keys" -- sh -c 'echo READY; exec cat') ||
	die "keystroke floor failed"
kc=$("$bin/bench-keylat" -n "$keys" -- setpriv --reuid="$uid" --regid="$gid" \
	--init-groups env CORRAL_SOCKET="$CORRAL_SOCKET" PATH=/usr/bin:/bin \
	"$corral" run -q -t -- sh -c 'echo READY; exec cat') ||
	die "keystroke round trip through corral run -t failed"
row 11 "keystroke: byte -> echo through \`corral run -t\` (median of $keys)" \
	"$(ms "${kc%% *}") ms" "bare pty $(ms "${kf%% *}") ms" "-" "report" "-"
note "keystroke round trip, us (median p10 p90 keys): corral -t $kc; bare pty $kf"

# --- the table -----------------------------------------------------------

{
	echo "# corral bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs${BENCH_QUICK:+ (BENCH_QUICK)}"
	echo
	echo "| # | measurement | corral | reference | ratio | target | result |"
	echo "|---|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo '```'
	cat "$notes"
	echo '```'
} >"$dir/results.md"
mkdir -p "$bin"
cp "$dir/results.md" "$out"
cat "$out"
echo
echo "saved to $out"
