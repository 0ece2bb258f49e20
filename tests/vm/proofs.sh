#!/bin/sh
# The proofs of the VM tier, run by /init as root inside the VM.
#
# Each proof is a function proof_<name> that prints exactly one line
#   @@R <name> ok|FAIL key=value...
# with the figures it measured.  Every proof runs in its own process under
# a timeout, so a hang or crash costs that proof only.  The kernel command
# line may select proofs: corral.proofs=memory,cpu (default: all).
#
# usage: proofs.sh            run the selected proofs
#        proofs.sh --one NAME run one proof (used by the loop below)

SANITY="cgroup2 disk swap"
CORRAL="memory memory-swap memory-high cpu cpu-weight pids cpuset io user-totals refusals network"
PROOFS="$SANITY $CORRAL"
CG=/sys/fs/cgroup
BASE=$CG/corral		# cgroup_base = /corral, delegated to corrald
UJOBS=$BASE/jobs/1000	# alice's jobs; per-user totals are set here
export CORRAL_SOCKET=/run/corral/corral.sock

# ---- helpers ---------------------------------------------------------------

# result NAME ok|FAIL key=value...
result() {
	n=$1 st=$2
	shift 2
	echo "@@R $n $st $*"
}

note() { echo "@@N $*"; }

# ok_if NAME STATUS key=value...: ok when STATUS is 0.
ok_if() {
	n=$1 c=$2
	shift 2
	if [ "$c" = 0 ]; then result "$n" ok "$@"; else result "$n" FAIL "$@"; fi
}

has_word() { # has_word WORD "LIST"
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

alice() { (cd /tmp && cgt runas alice -- "$@"); }
bob() { (cd /tmp && cgt runas bob -- "$@"); }

# Fields of corral's compact JSON (one object per line).
js() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }
jn() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" | head -n 1; }
# key=value words printed by cgt
kv() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
mib() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f", b / 1048576 }'; }
calc() { awk "BEGIN { print ($1) }"; }

status_of() { alice corral status --json "$1" 2>&1; }

# Poll a cgroup FILE every 50 ms while it exists, for at most SECS;
# print the largest value seen.
poll_max() { # poll_max FILE SECS
	m=0
	end=$(($(cgt ms) + $2 * 1000))
	while [ "$(cgt ms)" -lt $end ] && [ -f "$1" ]; do
		v=$(cat "$1" 2>/dev/null)
		[ -n "$v" ] && [ "$v" != max ] && [ "$v" -gt "$m" ] && m=$v
		sleep 0.05
	done
	echo $m
}

# ---- sanity proofs (no corral program needed) -------------------------------

proof_cgroup2() {
	ctl=$(cat $CG/cgroup.controllers)
	sub=$(cat $CG/cgroup.subtree_control)
	fs=$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)
	v1=$(awk 'NR > 1 && $2 != 0' /proc/cgroups | wc -l)
	bad=0
	for c in cpu memory io pids cpuset; do
		has_word $c "$ctl" && has_word $c "$sub" || bad=1
	done
	[ "$fs" = cgroup2 ] && [ "$v1" = 0 ] || bad=1
	ok_if cgroup2 $bad "fs=$fs controllers=$(echo $ctl | tr ' ' ,)" \
		"subtree=$(echo $sub | tr ' ' ,) v1_hierarchies=$v1"
}

proof_disk() {
	bad=0
	[ -b /dev/vda ] || bad=1
	dev=$(cat /sys/block/vda/dev 2>/dev/null)
	sectors=$(cat /sys/block/vda/size 2>/dev/null)
	[ "$sectors" = 131072 ] || bad=1
	ok_if disk $bad "dev=${dev:-none} mib=$((${sectors:-0} / 2048))"
}

# zram works as swap and a child group has memory.swap.max to bound it.
proof_swap() {
	bad=0
	mkdir -p $CG/swapcheck
	[ -f $CG/swapcheck/memory.swap.max ] || bad=1
	swapon /dev/zram0 || bad=1
	kib=$(awk '$1 == "/dev/zram0" { print $3 }' /proc/swaps)
	swapoff /dev/zram0 || bad=1
	rmdir $CG/swapcheck
	[ -n "$kib" ] && [ "$kib" -gt 0 ] || bad=1
	left=$(awk 'NR > 1' /proc/swaps | wc -l)
	[ "$left" = 0 ] || bad=1
	ok_if swap $bad "zram_kib=${kib:-0} active_after=$left"
}

# ---- the corral instance ----------------------------------------------------

# The helper's policy (root-owned, at its compiled-in path); $1 is the
# cgroup_base.  The refusal proof goes beyond these bounds.
write_helper_conf() {
	cat >/etc/corral/helper.conf <<EOF
[helper]
manager_user = corrald
cgroup_base = $1
min_uid = 1000
allow_root_jobs = no
max_jobs = 64

[limits]
memory_max = 256M
memory_swap_max = 256M
cpus = 1.5
pids_max = 1024
io_bps_max = 1G
io_iops_max = 100000
cpu_weight = 1000

[user]
memory_max = 48M

# The network proof's bridge; nftables is not in the image, so no
# anti-spoofing rules here (the host tier proves those).
[network lab]
bridge = br-lab
subnet = 10.99.0.0/24
gateway = 10.99.0.1
pool = 10.99.0.10-10.99.0.20
users = alice, bob
antispoof = no
EOF
	chown root:root /etc/corral/helper.conf
	chmod 0644 /etc/corral/helper.conf
}

write_corrald_conf() {
	cat >/etc/corral/corrald.conf <<EOF
[corrald]
socket = $CORRAL_SOCKET
socket_group = corral
admin_group = corral-admin
state_dir = /var/lib/corral
helper = /usr/libexec/corral/corral-helper
log_max_bytes = 1048576
stop_grace = 2s
EOF
	chmod 0644 /etc/corral/corrald.conf
}

# What systemd's Delegate=yes does: the group and its procs, threads and
# subtree_control files belong to the service user.
delegate() { # delegate CGROUP-DIR
	mkdir -p "$1"
	chown corrald:corrald "$1" "$1/cgroup.procs" "$1/cgroup.threads" \
		"$1/cgroup.subtree_control"
}

# What the package and the service manager would set up.
setup_system() {
	mkdir -p /etc/corral /run/corral /var/lib/corral
	chown corrald:corrald /run/corral /var/lib/corral
	chmod 0755 /run/corral
	chmod 0750 /var/lib/corral
	write_corrald_conf
	write_helper_conf /corral
	delegate $BASE
	# A second base whose parent hands down no io controller, for the
	# proof that a missing controller is named.
	mkdir -p $CG/noio
	echo "+cpu +memory +pids +cpuset" >$CG/noio/cgroup.subtree_control
	delegate $CG/noio/corral
	# the io proof's job writes to the raw disk as alice
	chown alice /dev/vda
}

# Start corrald as its own user inside the delegated group CGROUP-DIR
# (as a unit with Delegate=yes would), and wait until it serves.
start_corrald() { # start_corrald CGROUP-DIR
	g=$1
	# Once the helper has enabled controllers below the base, no process
	# may join the base itself (EBUSY): a restart goes where the helper
	# moved the first instance, base/daemon.
	if [ -n "$(cat "$g/cgroup.subtree_control")" ]; then
		g=$g/daemon
		mkdir -p "$g"
	fi
	sh -c "echo \$\$ >$g/cgroup.procs && exec cgt runas corrald -- corrald" \
		>>/tmp/corrald.log 2>&1 &
	echo $! >/tmp/corrald.pid
	# Serving means a job runs: corrald answers before its helper is
	# ready, and says "try again" until then.
	i=0
	while [ $i -lt 300 ]; do
		if [ -S "$CORRAL_SOCKET" ]; then
			err=$(alice corral run -- true 2>&1) && return 0
			case $err in *"try again"* | *"cannot connect"*) ;; *) break ;; esac
		fi
		kill -0 "$(cat /tmp/corrald.pid)" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	note "corrald did not come up (last answer: ${err:-none}); its log follows"
	sed 's/^/  corrald| /' /tmp/corrald.log
	return 1
}

stop_corrald() {
	pid=$(cat /tmp/corrald.pid 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	# the helper leaves once its socket closes
	i=0
	while pidof corral-helper >/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	rm -f /tmp/corrald.pid "$CORRAL_SOCKET"
}

# ---- corral proofs: the real programs, jobs run by alice ---------------------

# A job touching 64 MiB under --memory 16M is OOM-killed and corral says so.
proof_memory() {
	alice corral run --name mem --memory 16M -- cgt hog 64 >/tmp/mem.out 2>&1
	rc=$?
	st=$(status_of mem)
	state=$(echo "$st" | js state)
	kills=$(echo "$st" | jn oom_kills)
	peak=$(echo "$st" | jn memory_peak)
	bad=0
	[ $rc != 0 ] || bad=1
	[ "$state" = oom ] || bad=1
	[ "${kills:-0}" -ge 1 ] || bad=1
	[ "${peak:-0}" -ge $((12 << 20)) ] && [ "${peak:-0}" -le $((16 << 20)) ] || bad=1
	[ $bad = 0 ] || { cat /tmp/mem.out; echo "$st"; }
	ok_if memory $bad "rc=$rc state=$state oom_kills=${kills:-none}" \
		"memory_peak=${peak:-none} peak_mib=$(mib "$peak")"
}

# A detached 32 MiB hog of alice under --memory 16M; prints
# "rc state largest-swap-use".
swap_job() { # swap_job NAME SWAP
	id=$(alice corral run -d --name "$1" --memory 16M --memory-swap "$2" -- cgt hog 32 1)
	sw=$(poll_max "$UJOBS/$id/memory.swap.current" 30)
	alice corral wait "$id" >/dev/null 2>&1
	rc=$?
	echo "$rc $(status_of "$id" | js state) $sw"
}

# With swap on, --memory-swap 0 keeps a job out of it (OOM), while
# --memory-swap 64M lets the same job finish by swapping.
proof_memory_swap() {
	swapon /dev/zram0 || { result memory-swap FAIL reason=swapon; return; }
	# shellcheck disable=SC2046 # three words, split on purpose
	set -- $(swap_job swap0 0)
	rc0=$1 st0=$2 sw0=$3
	# shellcheck disable=SC2046 # three words, split on purpose
	set -- $(swap_job swap64 64M)
	rc64=$1 st64=$2 sw64=$3
	swapoff /dev/zram0
	bad=0
	[ "$rc0" != 0 ] && [ "$st0" = oom ] && [ "$sw0" = 0 ] || bad=1
	[ "$rc64" = 0 ] && [ "$st64" = exited ] && [ "${sw64:-0}" -ge $((8 << 20)) ] || bad=1
	ok_if memory-swap $bad "swap0: rc=$rc0 state=$st0 swap_mib=$(mib "$sw0")" \
		"swap64M: rc=$rc64 state=$st64 swap_max_mib=$(mib "$sw64")"
}

# A job allocating twice its --memory-high is throttled and reclaimed
# (memory.events counts "high"), is not killed, and ends by itself.
proof_memory_high() {
	swapon /dev/zram0 || { result memory-high FAIL reason=swapon; return; }
	id=$(alice corral run -d --name mhigh --memory-high 16M -- cgt hog 32 2)
	high=0
	end=$(($(cgt ms) + 60000))
	while [ "$(cgt ms)" -lt $end ] && [ -f "$UJOBS/$id/memory.events" ]; do
		v=$(awk '$1 == "high" { print $2 }' "$UJOBS/$id/memory.events" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -gt "$high" ] && high=$v
		sleep 0.05
	done
	alice corral wait "$id" >/dev/null 2>&1
	rc=$?
	swapoff /dev/zram0
	st=$(status_of "$id")
	state=$(echo "$st" | js state)
	kills=$(echo "$st" | jn oom_kills)
	set=$(echo "$st" | jn memory_high)
	bad=0
	[ $rc = 0 ] && [ "$state" = exited ] && [ "${kills:-0}" = 0 ] || bad=1
	[ "$high" -gt 0 ] && [ "$set" = $((16 << 20)) ] || bad=1
	[ $bad = 0 ] || echo "$st"
	ok_if memory-high $bad "rc=$rc state=$state high_events=$high" \
		"oom_kills=${kills:-none} memory_high=${set:-none}"
}

cpu_stat() { awk -v k="$2" '$1 == k { print $2 }' "$UJOBS/$1/cpu.stat" 2>/dev/null; }

# --cpus 0.2 holds a busy loop to a fifth of a CPU, and corral's cpu time
# matches what the job measured itself.  The limit is judged by the job
# cgroup's own cpu.stat over a window of the guest's clock while it runs
# (usage at most 0.2 of the window, and throttled in it), so a busy host,
# which only slows the guest, cannot fail it.
proof_cpu() {
	id=$(alice corral run -d --name cpu --cpus 0.2 -- cgt burn 5)
	sleep 1
	u0=$(cpu_stat "$id" usage_usec) n0=$(cpu_stat "$id" nr_throttled) t0=$(cgt ms)
	sleep 3
	u1=$(cpu_stat "$id" usage_usec) n1=$(cpu_stat "$id" nr_throttled) t1=$(cgt ms)
	alice corral wait "$id" >/dev/null 2>&1
	rc=$?
	out=$(alice corral logs --stdout "$id" 2>&1)
	self=$(kv total_cpu_usec "$out")
	cpu=$(status_of "$id" | jn cpu_usec)
	if [ $rc != 0 ] || [ -z "$u0" ] || [ -z "$u1" ] || [ -z "$self" ] || [ -z "$cpu" ]; then
		echo "$out"
		result cpu FAIL "rc=$rc cpu_usec=${cpu:-none} window=${u0:-none}..${u1:-none}"
		return
	fi
	ratio=$(calc "($u1 - $u0) / (($t1 - $t0) * 1000)")
	throttled=$((n1 - n0))
	diff=$((cpu - self))
	# the job's own figure leaves out its init and its exec: 50 ms or 10%
	slack=$((self / 10 > 50000 ? self / 10 : 50000))
	bad=0
	[ "$(calc "$ratio >= 0.05 && $ratio <= 0.23")" = 1 ] || bad=1
	[ "$throttled" -ge 1 ] || bad=1
	[ $diff -ge -20000 ] && [ $diff -le $slack ] || bad=1
	ok_if cpu $bad "window_ratio=$ratio throttled_periods=$throttled" \
		"cpu_usec=$cpu self_cpu_usec=$self diff_usec=$diff"
}

cpu_usage() { awk '$1 == "usage_usec" { print $2 }' "$UJOBS/$1/cpu.stat" 2>/dev/null; }

# Two busy jobs pinned to one CPU with --cpu-weight 100 and 300 share it
# about 1:3 (within 15%).  Judged from each job cgroup's cpu.stat over a
# window in which both run, so neither start-up skew nor a busy host can
# decide it.
proof_cpu_weight() {
	a=$(alice corral run -d --name w100 --cpuset 1 --cpu-weight 100 -- cgt burn 10)
	b=$(alice corral run -d --name w300 --cpuset 1 --cpu-weight 300 -- cgt burn 10)
	wa=$(cat "$UJOBS/$a/cpu.weight" 2>/dev/null)
	wb=$(cat "$UJOBS/$b/cpu.weight" 2>/dev/null)
	sleep 1
	a0=$(cpu_usage "$a") b0=$(cpu_usage "$b")
	sleep 4
	a1=$(cpu_usage "$a") b1=$(cpu_usage "$b")
	alice corral kill "$a" >/dev/null 2>&1
	alice corral kill "$b" >/dev/null 2>&1
	if [ -z "$a0" ] || [ -z "$a1" ] || [ -z "$b0" ] || [ -z "$b1" ]; then
		result cpu-weight FAIL "weights=${wa:-none}/${wb:-none} usage missing"
		return
	fi
	da=$((a1 - a0)) db=$((b1 - b0))
	ratio=$(calc "$db / ($da > 0 ? $da : 1)")
	bad=0
	[ "$wa" = 100 ] && [ "$wb" = 300 ] || bad=1
	[ "$(calc "$ratio >= 2.55 && $ratio <= 3.45")" = 1 ] || bad=1
	ok_if cpu-weight $bad "ratio=$ratio usec_w100=$da usec_w300=$db" \
		"cpu.weight=$wa/$wb"
}

# A fork bomb under --pids 16 never holds more than 16 tasks, the VM
# keeps answering, and corral stop ends it.
proof_pids() {
	id=$(alice corral run -d --name bomb --pids 16 -- cgt forkbomb 2)
	dir=$UJOBS/$id
	if [ -z "$id" ] || [ ! -d "$dir" ]; then
		result pids FAIL "reason=no-job id=$id"
		return
	fi
	mx=$(poll_max "$dir/pids.current" 3)
	t0=$(cgt ms)
	alice corral status --json bomb >/dev/null
	lat=$(($(cgt ms) - t0))
	peak=$(cat "$dir/pids.peak" 2>/dev/null || echo none)
	ev=$(awk '$1 == "max" { print $2 }' "$dir/pids.events")
	alice corral stop bomb >/dev/null
	alice timeout 30 corral wait "$id" >/dev/null 2>&1
	state=$(status_of "$id" | js state)
	said=$(alice corral logs "$id" 2>&1 | sed -n 's/^forkbomb //p' | tr ' ' ,)
	gone=yes
	[ -d "$dir" ] && gone=no
	bad=0
	[ "$mx" -le 16 ] && [ "$mx" -ge 8 ] || bad=1
	[ "$peak" = none ] || [ "$peak" -le 16 ] || bad=1
	[ "${ev:-0}" -ge 1 ] || bad=1
	[ $lat -lt 5000 ] || bad=1
	case $state in stopped | killed) ;; *) bad=1 ;; esac
	[ $gone = yes ] || bad=1
	ok_if pids $bad "max_tasks=$mx pids_peak=$peak pids_events_max=${ev:-none}" \
		"status_latency_ms=$lat state=$state cgroup_gone=$gone job_says=${said:-none}"
}

# --cpuset 1 pins the job: its affinity says 1 and it only ever ran on 1.
proof_cpuset() {
	out=$(alice corral run --cpuset 1 -- cgt cpus 1 2>&1)
	rc=$?
	allowed=$(kv allowed "$out")
	seen=$(kv seen "$out")
	bad=0
	[ $rc = 0 ] && [ "$allowed" = 1 ] && [ "$seen" = 1 ] || bad=1
	[ $bad = 0 ] || echo "$out"
	ok_if cpuset $bad "rc=$rc allowed=${allowed:-none} seen=${seen:-none}" \
		"samples=$(kv samples "$out")"
}

# 4 MiB of direct writes to the disk at --io-write-bps vda=1M take about
# 4 s; the same without the limit takes a fraction of one.
proof_io() {
	lim=$(alice corral run --io-write-bps vda=1M -- cgt diowrite /dev/vda 4 2>&1)
	rc1=$?
	free=$(alice corral run -- cgt diowrite /dev/vda 4 2>&1)
	rc2=$?
	us1=$(kv usec "$lim")
	us2=$(kv usec "$free")
	bad=0
	[ $rc1 = 0 ] && [ $rc2 = 0 ] && [ -n "$us1" ] && [ -n "$us2" ] || bad=1
	[ $bad = 0 ] && { [ "$us1" -ge 3500000 ] && [ "$us2" -lt 1500000 ] || bad=1; }
	[ $bad = 0 ] || echo "limited: $lim / unlimited: $free"
	ok_if io $bad "dev=$(cat /sys/block/vda/dev) limited_s=$(calc "${us1:-0} / 1e6")" \
		"unlimited_s=$(calc "${us2:-0} / 1e6")" \
		"limited_mib_s=$(calc "${us1:-0} ? 4e6 / ${us1:-1} : 0")"
}

# refused PATTERN CMD...: CMD (run by alice) fails and its error matches
# PATTERN (grep -E), i.e. names what was refused.
refused() {
	pat=$1
	shift
	err=$(alice "$@" 2>&1 >/dev/null)
	r=$?
	echo "rc=$r: $err"
	[ $r != 0 ] && echo "$err" | grep -qiE -- "$pat"
}

# Limits beyond the policy's bounds, and a controller the base lacks, are
# refused with an error naming them, and nothing runs.
proof_refusals() {
	bad=0 got=
	refused memory corral run --memory 1G -- true && got="$got,memory" || bad=1
	refused pids corral run --pids 5000 -- true && got="$got,pids" || bad=1
	refused cpu corral run --cpus 2 -- true && got="$got,cpus" || bad=1
	refused cpu_weight corral run --cpu-weight 5000 -- true && got="$got,cpu-weight" || bad=1
	# a refused start leaves no job cgroup behind
	left=$(find $UJOBS -mindepth 1 -type d 2>/dev/null | wc -l)
	[ "$left" = 0 ] || bad=1
	# mallory is not in group corral
	err=$(cd /tmp && cgt runas mallory -- corral run -- true 2>&1)
	r=$?
	echo "mallory rc=$r: $err"
	[ $r != 0 ] && got="$got,non-member" || bad=1
	# a second instance whose base group has no io controller
	stop_corrald
	write_helper_conf /noio/corral
	if start_corrald $CG/noio/corral; then
		alice corral run -- true && got="$got,noio-plain-job-runs" || bad=1
		refused '(^|[^a-z])io([^a-z]|$)' corral run --io-write-bps vda=1M -- true &&
			got="$got,io-absent" || bad=1
		refused '(^|[^a-z])io([^a-z]|$)' corral run --io-weight 200 -- true &&
			got="$got,io-weight-absent" || bad=1
	else
		bad=1
	fi
	stop_corrald
	write_helper_conf /corral
	start_corrald $BASE || bad=1
	ok_if refusals $bad "refused=${got#,} job_cgroups_left=$left"
}

# Per-user totals: two 32 MiB jobs of alice under a 48M user cap cannot
# both succeed, and together they never pass 48 MiB.
proof_user_totals() {
	a=$(alice corral run -d --name ua --memory 40M -- cgt hog 32 3)
	b=$(alice corral run -d --name ub --memory 40M -- cgt hog 32 3)
	mx=$(poll_max "$UJOBS/memory.current" 6)
	peak=$(cat $UJOBS/memory.peak 2>/dev/null || echo none)
	umax=$(cat $UJOBS/memory.max)
	alice corral wait "$a" >/dev/null 2>&1
	ra=$?
	alice corral wait "$b" >/dev/null 2>&1
	rb=$?
	sa=$(status_of "$a" | js state)
	sb=$(status_of "$b" | js state)
	bad=0
	[ "$umax" = $((48 << 20)) ] || bad=1
	[ $ra != 0 ] || [ $rb != 0 ] || bad=1
	[ "$mx" -le $((48 << 20)) ] || bad=1
	[ "$peak" = none ] || [ "$peak" -le $((48 << 20)) ] || bad=1
	ok_if user-totals $bad "user_memory_max=$umax job_a=$sa/rc$ra job_b=$sb/rc$rb" \
		"user_current_max_mib=$(mib "$mx") user_peak_mib=$(mib "$peak")"
}

# Two jobs of two users on one --network talk over TCP, both ways on one
# connection (busybox nc); each sees lo and eth0 only; the veths go with
# the jobs.
proof_network() {
	bad=0
	ip link add br-lab type bridge && ip addr add 10.99.0.1/24 dev br-lab &&
		ip link set br-lab up || bad=1
	a=$(alice corral run -d --network lab=10.99.0.10 -- \
		sh -c '{ echo reply-from-A; sleep 3; } | nc -l -p 5555')
	b=$(bob corral run -d --network lab=10.99.0.11 -- sh -c '
		i=0
		until { echo hello-from-B; sleep 1; } | nc 10.99.0.10 5555; do
			i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1
		done')
	alice corral wait "$a" >/dev/null 2>&1
	bob corral wait "$b" >/dev/null 2>&1
	la=$(alice corral logs "$a" 2>&1)
	lb=$(bob corral logs "$b" 2>&1)
	echo "A: $la / B: $lb"
	[ "$la" = hello-from-B ] && [ "$lb" = reply-from-A ] || bad=1
	links=$(alice corral run -q --network lab -- sh -c \
		'ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d " " | sort | tr "\n" ,; ls /sys/class/net | tr "\n" ,' 2>&1)
	[ "$links" = "eth0,lo,eth0,lo," ] || bad=1
	addr=$(status_of "$a" | js net_address)
	[ "$addr" = 10.99.0.10/24 ] || bad=1
	left=$(ip -o link | grep -c ' crl')
	[ "$left" = 0 ] || bad=1
	ok_if network $bad "a_got=$la b_got=$lb job_links=$links a_address=$addr veths_left=$left"
}

# ---- driver ----------------------------------------------------------------

if [ "$1" = --one ]; then
	"proof_$(echo "$2" | tr - _)"
	exit 0
fi

# corrald comes up once, before the first proof that needs it.
daemon=
need_daemon() {
	[ -z "$daemon" ] || return 0
	daemon=failed
	missing=$(for x in corrald corral corral-helper; do
		grep -qx $x /etc/corral/programs || echo $x
	done)
	if [ -n "$missing" ]; then
		note "not built:" $missing
		return 0
	fi
	setup_system
	start_corrald $BASE && daemon=up
}

sel=$(sed -n 's/.*corral\.proofs=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
[ -n "$sel" ] && [ "$sel" != all ] || sel=$PROOFS
for p in $sel; do
	if ! has_word "$p" "$PROOFS"; then
		result "$p" FAIL reason=unknown-proof
		continue
	fi
	if has_word "$p" "$CORRAL"; then
		need_daemon
		if [ "$daemon" != up ]; then
			result "$p" FAIL reason=no-corrald
			continue
		fi
	fi
	t0=$(cgt ms)
	timeout 120 sh /proofs.sh --one "$p" >/tmp/proof.out 2>&1
	rc=$?
	t1=$(cgt ms)
	grep -v '^@@R ' /tmp/proof.out | sed 's/^/  | /'
	line=$(grep "^@@R $p " /tmp/proof.out | tail -n 1)
	if [ -n "$line" ]; then
		echo "$line secs=$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))"
	else
		result "$p" FAIL "reason=no-result rc=$rc"
	fi
done
if [ "$daemon" = up ]; then
	stop_corrald
	grep -iE 'error|fatal|abort' /tmp/corrald.log | head -n 20 | sed 's/^/  corrald| /'
fi
exit 0
