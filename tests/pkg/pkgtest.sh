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
UNIT_CG=/sys/fs/cgroup/system.slice/corrald.service

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

# Processes in the unit's cgroup tree, other than corrald and the helper.
job_procs() {
	[ -d "$UNIT_CG" ] || return 0
	find "$UNIT_CG" -name cgroup.procs -path '*/jobs/*' -exec cat {} + 2>/dev/null
}
job_groups() {
	[ -d "$UNIT_CG/jobs" ] || return 0
	find "$UNIT_CG/jobs" -mindepth 1 -type d
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
[ "$nnp" = 0 ] && [ "$cg" = /system.slice/corrald.service/daemon ] &&
	[ "$sock" = "660 corrald corral" ] && [ "$enabled" = enabled ] ||
	fail service "nnp=$nnp cgroup=$cg socket=$sock enabled=$enabled"
ok service "active enabled=$enabled main_pid=$mpid cgroup=$cg no_new_privs=$nnp socket=$(echo $sock | tr ' ' :) state_dir=$(echo $state_dir | tr ' ' :)"

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
g=$UNIT_CG/jobs/$(id -u alice)/$id
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

id=$(as_alice corral run -d --name long -- sleep 1000)
wait_for 50 pgrep -u alice -x sleep >/dev/null || fail stop "job did not start (id=$id)"
before=$(job_groups | wc -l)
t=$(ms)
systemctl stop corrald
took=$(($(ms) - t))
left=$(pgrep -u alice | wc -l)
groups=$(job_groups | wc -l)
helpers=$(pgrep -x corral-helper | wc -l)
[ "$before" -ge 1 ] && [ "$left" = 0 ] && [ "$groups" = 0 ] && [ "$helpers" = 0 ] ||
	fail stop "job_groups_before=$before alice_procs=$left job_groups=$groups helpers=$helpers"
ok stop "secs=$((took / 1000)).$((took % 1000 / 100)) job_groups_before=$before alice_procs=$left job_groups_after=$groups unit_cgroup=$([ -d "$UNIT_CG" ] && echo kept || echo removed)"

# ---- restart: a running job is killed, and its end recorded (docs/manager.md, Shutdown) -----

systemctl start corrald
wait_for 300 served || fail restart "corrald did not come back: $(systemctl is-active corrald)"
id=$(as_alice corral run -d --name victim -- sleep 1000)
wait_for 50 pgrep -u alice -x sleep >/dev/null || fail restart "job did not start (id=$id)"
systemctl restart corrald
wait_for 300 served || fail restart "corrald did not come back: $(systemctl is-active corrald)"
state=$(as_alice corral status --json "$id" 2>&1 | js state)
as_alice corral wait "$id" >/dev/null 2>&1
wrc=$?
left=$(pgrep -u alice | wc -l)
[ "$state" = killed ] && [ $wrc = 137 ] && [ "$left" = 0 ] ||
	fail restart "state=$state wait_rc=$wrc alice_procs=$left"
ok restart "state=$state wait_rc=$wrc alice_procs=$left"

# The pause a client sees at a restart, and at a crash that Restart= mends:
# from the command to the first answered request (medians of 5; TCG, and
# polled every 0.1 s by a fresh `corral whoami`).  Reported, not judged.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
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
ok restart_pause "restart_median_ms=$(echo $pauses | tr ' ' '\n' | median) crash_median_ms=$(echo $crashes | tr ' ' '\n' | median) restart_ms=$(echo $pauses | tr ' ' ,) crash_ms=$(echo $crashes | tr ' ' ,)"

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
pgrep -x corrald >/dev/null && bad="$bad corrald-running"
getent passwd alice >/dev/null && [ -d /home/alice ] || bad="$bad alice-gone"
# dpkg itself still works (a statoverride naming a deleted group breaks it).
dpkg --audit >/dev/null 2>&1 && dpkg-statoverride --list >/dev/null 2>&1 || bad="$bad dpkg-broken"
[ $rc = 0 ] && [ -z "$bad" ] || { echo "$out" | tail -n 20; fail purge "rc=$rc left:$bad"; }
ok purge "rc=$rc users,groups,config,state,statoverride,unit=gone alice=kept"

echo "@@DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
