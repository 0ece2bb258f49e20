#!/bin/sh
# The README's main command: build, start a private corral instance, run a
# real limited job as a throw-away user, show ps, logs and status, clean up.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it makes throw-away users)" >&2; exit 1; }
# One private instance at a time: the test helper's policy path is fixed.
if [ -z "${CORRAL_LOCKED:-}" ]; then
	CORRAL_LOCKED=1 exec flock "${CORRAL_TEST_DIR:-/run/corral-test}.lock" "$0" "$@"
fi
make -C "$top" -s -j2 programs >/dev/null
corral=$top/build/corral

dir=$(mktemp -d /tmp/corral-demo.XXXXXX)
user=crl-demo-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
cleanup() {
	userdel "$user" 2>/dev/null || true	# first: its group goes next
	"$top/tests/instance.sh" stop "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

vars=$("$top/tests/instance.sh" start "$dir") || exit 1
eval "$vars"
useradd -M -N -g "$CORRAL_GROUP" -d /tmp -s /bin/sh "$user"
as_user() {
	setpriv --reuid="$user" --regid="$CORRAL_GROUP" --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" PATH=/usr/bin:/bin "$@"
}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Limits need their controllers in the cgroup2 tree; ask for the ones this
# machine has.  corral refuses a limit it cannot enforce, never ignores it.
mnt=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
have=$(cat "$mnt/cgroup.controllers")
has() { case " $have " in *" $1 "*) return 0 ;; esac; return 1; }
limits="--timeout 60s"
if has memory; then limits="$limits --memory 256M"; fi
if has pids; then limits="$limits --pids 64"; fi
if has cpu; then limits="$limits --cpus 0.5"; fi

say "instance: socket $CORRAL_SOCKET, user $user in group $CORRAL_GROUP"
say "cgroup2 controllers here: ${have:-none}"
if ! has memory; then
	say "corral run --memory 64M (this machine has no memory controller in cgroup2)"
	as_user "$corral" run --memory 64M -- true || echo "(exit $?: refused, as it must be)"
fi

say "corral run $limits --name demo -- sh -c ..."
as_user "$corral" run $limits --name demo -- /bin/sh -c '
	echo "hello from $(id -un) (uid $(id -u)) on $(hostname), pid $$"
	grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status
	echo "network interfaces: $(ls /sys/class/net | tr "\n" " ")(host view; ip link:)"
	ip -o link 2>/dev/null | cut -d: -f2 || true
	i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done
	echo "to stderr" >&2
	exit 3' && rc=0 || rc=$?
echo "corral run exited with $rc (the job's own exit code)"

say "corral ps"
as_user "$corral" ps
say "corral logs demo"
as_user "$corral" logs demo
say "corral status demo"
as_user "$corral" status demo
say "done; removing the instance"
