#!/bin/sh
# The package test, run as root by a systemd unit at boot of the Debian 12
# VM (tests/pkg/run.sh).  Each step prints one line on the console,
#   @@R step ok|FAIL detail
# and the test stops at the first step that does not hold; "@@DONE" says
# the script got to its end either way.
P=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HELPER=/usr/libexec/corral/corral-helper
# corrald alone in its unit's group; the helper and the jobs in the jobs
# unit's (docs/restart.md).
MAIN_CG=/sys/fs/cgroup/system.slice/corrald.service
JOBS_CG=/sys/fs/cgroup/system.slice/corral-jobs.service

ms() { echo $(($(date +%s%N) / 1000000)); }

# Print the outcome of a step; on failure show what helps, and stop.
ok() { echo "@@R $1 ok $2"; }
fail() {
	echo "@@R $1 FAIL $2"
	echo "---- diagnostics"
	systemctl status --no-pager corrald 2>&1 | tail -n 20
	journalctl --no-pager -b -n 40 2>&1 | tail -n 40
	echo "@@DONE failed-at=$1"
	exit 1
}

# Fields of corral's compact JSON.
js() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }
jn() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9]*\).*/\1/p" | head -n 1; }

as_alice() { (cd /tmp && runuser -u alice -- "$@"); }

# Wait up to $1 tenths of a second for a command to succeed.
wait_for() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

served() { [ -S /run/corral/corral.sock ] && corral whoami >/dev/null 2>&1; }
active() { [ "$(systemctl is-active corrald)" = active ]; }

# Job groups, jobs/<uid>/<job> (a user's jobs/<uid> stays between jobs).
job_groups() {
	[ -d "$JOBS_CG/jobs" ] || return 0
	find "$JOBS_CG/jobs" -mindepth 2 -type d
}
jobs_unit() { systemctl is-active corral-jobs.service; }
# Nothing of corral's left: no job process, no job cgroup, no helper, the
# jobs unit stopped and its group gone.
nothing_left() {
	[ "$(pgrep -u alice | wc -l)" = 0 ] && [ "$(job_groups | wc -l)" = 0 ] &&
		! pgrep -x corral-helper >/dev/null && [ "$(jobs_unit)" = inactive ] &&
		[ ! -d "$JOBS_CG" ]
}
leftovers() {
	echo "alice_procs=$(pgrep -u alice | wc -l) job_groups=$(job_groups | wc -l)" \
		"helpers=$(pgrep -x corral-helper | wc -l) jobs_unit=$(jobs_unit)" \
		"jobs_cgroup=$([ -d "$JOBS_CG" ] && echo kept || echo removed)"
}

# ---- the system -------------------------------------------------------------

pid1=$(cat /proc/1/comm)
state=$(systemctl is-system-running 2>/dev/null)
[ "$pid1" = systemd ] || fail boot "pid1=$pid1"
ok boot "pid1=$pid1 system=$state kernel=$(uname -r) cgroup=$(stat -fc %T /sys/fs/cgroup)"

# ---- install ------------------------------------------------------------------

cp "$P"/corral_*.deb /tmp/
t=$(ms)
out=$(apt-get install -y /tmp/corral_*.deb 2>&1)
rc=$?
[ $rc = 0 ] && dpkg-query -W -f='${Status}' corral | grep -q 'install ok installed' ||
	{ echo "$out" | tail -n 20; fail install "apt-get rc=$rc"; }
ok install "version=$(dpkg-query -W -f='${Version}' corral) secs=$((($(ms) - t) / 1000))"

# ---- accounts, files, modes ------------------------------------------------------

u=$(getent passwd corrald)
gs=$(id -nG corrald 2>/dev/null)
mode=$(stat -c '%a %U %G' $HELPER)
ovr=$(dpkg-statoverride --list $HELPER)
confs=$(stat -c '%a:%U' /etc/corral/corrald.conf /etc/corral/helper.conf | tr '\n' ' ')
[ -n "$u" ] && getent group corral >/dev/null && getent group corral-admin >/dev/null &&
	echo " $gs " | grep -q ' corral ' && [ "$mode" = "4750 root corrald" ] &&
	[ "$ovr" = "root corrald 4750 $HELPER" ] ||
	fail accounts "passwd=$u groups=$gs helper=$mode override=$ovr"
ok accounts "corrald=$(echo "$u" | cut -d: -f3,6,7) groups=$(echo $gs | tr ' ' ,) helper=$(echo $mode | tr ' ' :) confs=$confs"

# ---- the service --------------------------------------------------------------------

wait_for 300 served || fail service "is-active=$(systemctl is-active corrald)"
mpid=$(systemctl show -p MainPID --value corrald)
nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/"$mpid"/status)
cg=$(cut -d: -f3 /proc/"$mpid"/cgroup)
sock=$(stat -c '%a %U %G' /run/corral/corral.sock)
state_dir=$(stat -c '%a %U' /var/lib/corral)
enabled=$(systemctl is-enabled corrald)
[ "$nnp" = 0 ] && [ "$cg" = /system.slice/corrald.service ] &&
	[ "$sock" = "660 corrald corral" ] && [ "$enabled" = enabled ] ||
	fail service "nnp=$nnp cgroup=$cg socket=$sock enabled=$enabled"
ok service "active enabled=$enabled main_pid=$mpid cgroup=$cg no_new_privs=$nnp socket=$(echo $sock | tr ' ' :) state_dir=$(echo $state_dir | tr ' ' :)"

# The two units: corrald alone in its group (no subgroups, so a new main
# process can always join it); the helper and the jobs unit's sleep in
# corral-jobs.service/daemon; the jobs unit started by corrald's, not
# enabled itself; the fd store sized from helper.conf's max_jobs.
hpid=$(pgrep -x -P "$mpid" corral-helper)
hcg=$(cut -d: -f3 /proc/"$hpid"/cgroup 2>/dev/null)
jpid=$(systemctl show -p MainPID --value corral-jobs)
jcg=$(cut -d: -f3 /proc/"$jpid"/cgroup 2>/dev/null)
procs=$(cat "$MAIN_CG/cgroup.procs" | tr '\n' ' ')
subs=$(find "$MAIN_CG" -mindepth 1 -type d | wc -l)
maxjobs=$(sed -n 's/^max_jobs *= *//p' /etc/corral/helper.conf)
fdmax=$(systemctl show -p FileDescriptorStoreMax --value corrald)
jstate="$(jobs_unit) $(systemctl is-enabled corral-jobs 2>&1)"
[ -n "$hpid" ] && [ "$hcg" = /system.slice/corral-jobs.service/daemon ] &&
	[ "$jcg" = /system.slice/corral-jobs.service/daemon ] && [ "$procs" = "$mpid " ] &&
	[ "$subs" = 0 ] && [ "$jstate" = "active static" ] &&
	[ "$fdmax" = $((maxjobs * 2 + 17)) ] ||
	fail units "helper=$hpid:$hcg jobs_unit_main=$jpid:$jcg corrald_group_procs=$procs subgroups=$subs jobs_unit=$jstate max_jobs=$maxjobs fdstore_max=$fdmax"
ok units "helper_cgroup=$hcg jobs_unit=$(echo $jstate | tr ' ' ,) its_sleep_cgroup=$jcg corrald_group=main_pid_only fdstore_max=$fdmax max_jobs=$maxjobs"

# ---- a user's job --------------------------------------------------------------------

useradd -m -s /bin/sh alice
usermod -aG corral alice
useradd -m -s /bin/sh bob
out=$(as_alice corral run --name hello --memory 64M --pids 32 -- \
	sh -c 'echo "job says hello as $(id -un)"; echo "to stderr" >&2; exit 3' 2>&1)
rc=$?
st=$(as_alice corral status --json hello 2>&1)
state=$(echo "$st" | js state)
code=$(echo "$st" | jn exit_code)
mem=$(echo "$st" | jn memory_max)
pids=$(echo "$st" | jn pids_max)
echo "$out" | grep -qx 'job says hello as alice' && echo "$out" | grep -qx 'to stderr' &&
	[ $rc = 3 ] && [ "$state" = exited ] && [ "$code" = 3 ] &&
	[ "$mem" = 67108864 ] && [ "$pids" = 32 ] ||
	{ echo "$out"; echo "$st"; fail job "rc=$rc state=$state exit=$code memory_max=$mem pids_max=$pids"; }
ok job "rc=$rc output=$(echo "$out" | head -n 1 | tr ' ' _) state=$state exit_code=$code memory_max=$mem pids_max=$pids"

# The limits are the job's cgroup's, as the kernel sees them.
id=$(as_alice corral run -d --memory 64M --pids 32 -- sleep 30)
g=$JOBS_CG/jobs/$(id -u alice)/$id
kmem=$(cat "$g/memory.max" 2>/dev/null)
kpids=$(cat "$g/pids.max" 2>/dev/null)
as_alice corral kill "$id" >/dev/null 2>&1
[ "$kmem" = 67108864 ] && [ "$kpids" = 32 ] || fail limits "cgroup=$g memory.max=$kmem pids.max=$kpids"
ok limits "memory.max=$kmem pids.max=$kpids"

# ---- start time against systemd-run (make bench, row 10) -------------------------------

# Each start timed inside the caller's shell (runuser's PAM set-up is not
# counted), corral as alice and systemd-run as root, alternating.  TCG
# emulates the CPU: only the ratio means something.
one_start() { # one_start: ns of one corral start, then of one systemd-run
	runuser -u alice -- sh -c 'cd /tmp; t=$(date +%s%N); corral run -q -- true || exit 1; echo $(($(date +%s%N) - t))' || return 1
	t=$(date +%s%N)
	systemd-run --wait --pipe -q true || return 1
	echo $(($(date +%s%N) - t))
}
mid() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >/tmp/sb.corral
: >/tmp/sb.sdrun
i=0
while [ $i -lt 11 ]; do
	r=$(one_start) || fail startbench "round $i: a start failed"
	# the first round warms the caches up and is not counted
	[ $i = 0 ] || { echo "$r" | sed -n 1p >>/tmp/sb.corral; echo "$r" | sed -n 2p >>/tmp/sb.sdrun; }
	i=$((i + 1))
done
c=$(mid </tmp/sb.corral)
sdr=$(mid </tmp/sb.sdrun)
ok startbench "corral_us=$((c / 1000)) systemd_run_us=$((sdr / 1000)) ratio=$(awk -v a="$c" -v b="$sdr" 'BEGIN { printf "%.2f", a / b }') rounds=10"

# ---- a user not in corral ---------------------------------------------------------------

err=$(cd /tmp && runuser -u bob -- corral run -- true 2>&1)
rc=$?
[ $rc = 125 ] && [ -n "$err" ] || fail refused "rc=$rc err=$err"
ok refused "rc=$rc err=$(echo "$err" | head -n 1 | tr ' ' _)"

# ---- a job killed by its own memory limit leaves the service up -------------------------

as_alice corral run --name oom --memory 32M -- perl -e '$x = "a" x (256 << 20); print length $x' >/dev/null 2>&1
rc=$?
state=$(as_alice corral status --json oom 2>&1 | js state)
sleep 1
[ "$state" = oom ] && active || fail oom "rc=$rc state=$state service=$(systemctl is-active corrald)"
ok oom "rc=$rc state=$state service=$(systemctl is-active corrald)"

# ---- reload and upgrade keep a running job (docs/restart.md) -------------------------------

# A job printing c0, c1, ... until /tmp/counter.stop exists, then exit 4;
# a follower watches it the whole time.
resumed() { [ "$(journalctl -u corrald -b --no-pager | grep -c 'resumed:')" -ge "$1" ]; }
in_order() { awk '$0 != "c" (NR - 1) { bad = 1 } END { exit bad || NR < 20 }' "$1"; }
rm -f /tmp/counter.stop
id=$(as_alice corral run -d --name counter -- sh -c \
	'i=0; while [ ! -e /tmp/counter.stop ]; do echo c$i; i=$((i+1)); sleep 0.05; done; exit 4')
as_alice corral logs -f "$id" >/tmp/counter.out 2>/tmp/counter.err &
fpid=$!
mpid=$(systemctl show -p MainPID --value corrald)
hpid=$(pgrep -x -P "$mpid" corral-helper)
sleep 2
t=$(ms)
systemctl reload corrald
wait_for 100 resumed 1 || fail reload "no resume in the journal"
wait_for 100 served || fail reload "not served after the reload"
took=$(($(ms) - t))
st=$(as_alice corral status --json "$id" 2>&1 | js state)
[ "$(systemctl show -p MainPID --value corrald)" = "$mpid" ] && [ "$st" = running ] &&
	[ "$(pgrep -x -P "$mpid" corral-helper)" = "$hpid" ] ||
	fail reload "main_pid $mpid -> $(systemctl show -p MainPID --value corrald) helper $hpid -> $(pgrep -x -P "$mpid" corral-helper) state=$st"
ok reload "main_pid=$mpid helper=$hpid state=$st served_after_ms=$took"

t=$(ms)
out=$(apt-get install -y "$P"/newer/corral_*.deb 2>&1)
rc=$?
took=$(($(ms) - t))
wait_for 100 resumed 2 || { echo "$out" | tail -n 20; fail upgrade "no reload at the upgrade (rc=$rc)"; }
wait_for 100 served || fail upgrade "not served after the upgrade"
ver=$(dpkg-query -W -f='${Version}' corral)
st=$(as_alice corral status --json "$id" 2>&1 | js state)
exe=$(stat -L -c %i /proc/"$mpid"/exe) disk=$(stat -c %i /usr/sbin/corrald)
hexe=$(stat -L -c %i /proc/"$hpid"/exe) hdisk=$(stat -c %i $HELPER)
[ $rc = 0 ] && [ "${ver%+up1}" != "$ver" ] && [ "$st" = running ] &&
	[ "$(systemctl show -p MainPID --value corrald)" = "$mpid" ] &&
	[ "$exe" = "$disk" ] && [ "$hexe" = "$hdisk" ] ||
	{ echo "$out" | tail -n 20; fail upgrade "rc=$rc version=$ver state=$st corrald_inode=$exe/$disk helper_inode=$hexe/$hdisk"; }
ok upgrade "version=$ver secs=$((took / 1000)) state=$st main_pid=$mpid runs_new_corrald=yes runs_new_helper=yes"

touch /tmp/counter.stop
as_alice corral wait "$id" >/dev/null 2>&1
wrc=$?
wait $fpid
lines=$(wc -l </tmp/counter.out)
[ $wrc = 4 ] && in_order /tmp/counter.out ||
	{ head -c 300 /tmp/counter.err; fail follower "wait_rc=$wrc lines=$lines last=$(tail -n 1 /tmp/counter.out)"; }
ok follower "wait_rc=$wrc lines=$lines in_order_no_gap=yes"

# ---- systemctl stop leaves no job behind ---------------------------------------------------

# Both units go: corrald first (After=), then the jobs unit, no longer
# needed, with whatever is left in its group.
id=$(as_alice corral run -d --name long -- sleep 1000)
wait_for 50 pgrep -u alice -x sleep >/dev/null || fail stop "job did not start (id=$id)"
before=$(job_groups | wc -l)
t=$(ms)
systemctl stop corrald
took=$(($(ms) - t))
at_return=$(leftovers)
wait_for 100 nothing_left || fail stop "job_groups_before=$before at_return: $at_return; 10 s later: $(leftovers)"
ok stop "secs=$((took / 1000)).$((took % 1000 / 100)) job_groups_before=$before at_return:$(echo "$at_return" | tr ' ' ,) corrald=$(systemctl is-active corrald)"

# ---- restart and crash: the running job runs on (docs/restart.md) ---------------------------

# One job, printing c0, c1, ... until /tmp/survivor.stop exists, then
# exit 6, attached to a `corral run` and watched by a `corral logs -f`,
# across `systemctl restart corrald` and then kill -9 of corrald
# (Restart= brings it back): each time the job runs on with the same pid,
# the main pid is new, the helper (in the jobs unit) is the same; at the
# end both clients saw every line once, in order, and both they and
# `corral wait` give 6.  Then `systemctl stop corrald` leaves nothing.
crash() {
	mpid=$(systemctl show -p MainPID --value corrald)
	kill -9 "$mpid"
	wait_for 50 sh -c '[ "$(systemctl show -p MainPID --value corrald)" != 0 ] && [ "$(systemctl show -p MainPID --value corrald)" != '"$mpid"' ]'
}
# The helper: in the jobs unit's daemon/ beside its sleep (a job's init is
# a clone of the helper, so pgrep by name finds those too).
helper_pid() { grep -vx "$(systemctl show -p MainPID --value corral-jobs)" "$JOBS_CG/daemon/cgroup.procs" 2>/dev/null; }
runs() { [ "$(field "$1" state)" = running ]; }
field() { as_alice corral status --json "$1" 2>&1 | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1; }
# survives STEP COMMAND...: the survivor runs on across COMMAND.
survives() {
	step=$1
	shift
	mpid=$(systemctl show -p MainPID --value corrald)
	t=$(ms)
	"$@"
	wait_for 300 served || fail "$step" "corrald did not come back: $(systemctl is-active corrald)"
	took=$(($(ms) - t))
	n0=$(wc -l </tmp/survivor.follow)
	sleep 1
	n1=$(wc -l </tmp/survivor.follow)
	st=$(field survivor state) p=$(field survivor pid) npid=$(systemctl show -p MainPID --value corrald)
	[ "$st" = running ] && [ "$p" = "$jpid" ] && kill -0 "$jpid" && [ "$npid" != "$mpid" ] &&
		[ "$(helper_pid)" = "$hpid" ] && [ "$n1" -gt "$n0" ] ||
		fail "$step" "state=$st job_pid $jpid -> $p main_pid $mpid -> $npid helper $hpid -> $(helper_pid) follower_lines $n0 -> $n1"
	ok "$step" "state=$st job_pid=$jpid main_pid=$mpid->$npid helper=$hpid served_after_ms=$took follower_lines=$n1 nrestarts=$(systemctl show -p NRestarts --value corrald)"
}
systemctl start corrald
wait_for 300 served || fail restart "corrald did not come back: $(systemctl is-active corrald)"
rm -f /tmp/survivor.stop
as_alice corral run --name survivor -- sh -c \
	'i=0; while [ ! -e /tmp/survivor.stop ]; do echo c$i; i=$((i+1)); sleep 0.05; done; exit 6' \
	>/tmp/survivor.run 2>/tmp/survivor.run.err &
rpid=$!
wait_for 50 runs survivor || fail restart "the job did not start"
jpid=$(field survivor pid)
id=$(field survivor id)
as_alice corral logs -f "$id" >/tmp/survivor.follow 2>/tmp/survivor.follow.err &
fpid=$!
hpid=$(helper_pid)
[ -n "$hpid" ] && [ "$(echo "$hpid" | wc -l)" = 1 ] || fail restart "helper(s) in daemon/: $hpid"
sleep 2
survives restart systemctl restart corrald
survives crash crash

touch /tmp/survivor.stop
as_alice corral wait "$id" >/dev/null 2>&1
wrc=$?
wait $rpid
rrc=$?
wait $fpid
frc=$?
[ $wrc = 6 ] && [ $rrc = 6 ] && [ $frc = 0 ] && in_order /tmp/survivor.run && in_order /tmp/survivor.follow ||
	{ head -c 300 /tmp/survivor.run.err /tmp/survivor.follow.err
	fail survivor "wait_rc=$wrc run_rc=$rrc logs_rc=$frc run_lines=$(wc -l </tmp/survivor.run) follow_lines=$(wc -l </tmp/survivor.follow)"; }
ok survivor "wait_rc=$wrc run_rc=$rrc run_lines=$(wc -l </tmp/survivor.run) follow_lines=$(wc -l </tmp/survivor.follow) in_order_no_gap=yes"

# A stop with the store in use: corrald exits leaving the jobs to the two
# paths (the store closed, so the helper reads EOF; the jobs unit no
# longer needed); nothing is left, and the next start records the job.
id=$(as_alice corral run -d --name stopped -- sleep 1000)
wait_for 50 pgrep -u alice -x sleep >/dev/null || fail stop_resumed "job did not start (id=$id)"
systemctl stop corrald
at_return=$(leftovers)
wait_for 100 nothing_left || fail stop_resumed "at_return: $at_return; 10 s later: $(leftovers)"
systemctl start corrald
wait_for 300 served || fail stop_resumed "corrald did not come back: $(systemctl is-active corrald)"
st=$(field stopped state) err=$(field stopped error)
[ "$st" = lost ] || fail stop_resumed "state=$st error=$err"
ok stop_resumed "at_return:$(echo "$at_return" | tr ' ' ,) next_start_records=$st,$(echo "$err" | tr ' ' _)"

# The pause a client sees at a restart, and at a crash that Restart= mends:
# from the command to the first answered request (medians of 5; TCG, and
# polled every 0.1 s by a fresh `corral whoami`).  Reported, not judged.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
id=$(as_alice corral run -d --name paused -- sleep 1000)
wait_for 50 runs paused || fail restart_pause "job did not start"
jpid=$(field paused pid)
pauses=
for i in 1 2 3 4 5; do
	systemctl reset-failed corrald # the start rate limit would stop the series
	t=$(ms)
	systemctl restart corrald
	wait_for 300 served || fail restart_pause "corrald did not come back after restart $i"
	pauses="$pauses $(($(ms) - t))"
done
crashes=
for i in 1 2 3 4 5; do
	systemctl reset-failed corrald # the start rate limit would stop the series
	t=$(ms)
	kill -9 "$(systemctl show -p MainPID --value corrald)"
	sleep 0.2
	wait_for 300 served || fail restart_pause "corrald did not come back after kill -9 $i"
	crashes="$crashes $(($(ms) - t))"
done
[ "$(field paused state)" = running ] && [ "$(field paused pid)" = "$jpid" ] && kill -0 "$jpid" ||
	fail restart_pause "the job did not survive: state=$(field paused state) pid $jpid -> $(field paused pid)"
ok restart_pause "job_ran_on=yes restart_median_ms=$(echo $pauses | tr ' ' '\n' | median) crash_median_ms=$(echo $crashes | tr ' ' '\n' | median) restart_ms=$(echo $pauses | tr ' ' ,) crash_ms=$(echo $crashes | tr ' ' ,)"

# ---- purge removes what the package made, and only that --------------------------------------

out=$(apt-get purge -y corral 2>&1)
rc=$?
bad=
getent passwd corrald >/dev/null && bad="$bad user-corrald"
for g in corrald corral corral-admin; do
	getent group $g >/dev/null && bad="$bad group-$g"
done
for d in /etc/corral /var/lib/corral /run/corral $HELPER /usr/bin/corral /usr/sbin/corrald; do
	[ -e $d ] && bad="$bad $d"
done
[ -n "$(dpkg-statoverride --list $HELPER)" ] && bad="$bad statoverride"
systemctl cat corrald >/dev/null 2>&1 && bad="$bad unit"
systemctl cat corral-jobs >/dev/null 2>&1 && bad="$bad jobs-unit"
[ -d "$JOBS_CG" ] && bad="$bad jobs-cgroup"
pgrep -x corrald >/dev/null && bad="$bad corrald-running"
getent passwd alice >/dev/null && [ -d /home/alice ] || bad="$bad alice-gone"
# dpkg itself still works (a statoverride naming a deleted group breaks it).
dpkg --audit >/dev/null 2>&1 && dpkg-statoverride --list >/dev/null 2>&1 || bad="$bad dpkg-broken"
[ $rc = 0 ] && [ -z "$bad" ] || { echo "$out" | tail -n 20; fail purge "rc=$rc left:$bad"; }
ok purge "rc=$rc users,groups,config,state,statoverride,unit=gone alice=kept"

echo "@@DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
