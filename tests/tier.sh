# The shell pieces every host tier shares (tests/integration/run.sh,
# tests/faults/run.sh): root and program checks, throw-away users, private
# instances, running as a user, the store, and the ok/FAIL lines with the
# closing "N passed, M failed".  Source it after setting TIER (the tier's
# name, for messages) and TIER_PREFIX (two letters for user names).
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$top/build}
corral=$build/corral
raw=$build/tests/integration/rawclient
inst=$top/tests/instance.sh

if [ "$(id -u)" != 0 ]; then
	echo "$TIER: SKIPPED (needs root)"
	exit 0
fi
for p in "$corral" "$raw" "$build/corrald" "$build/corral-helper-test"; do
	[ -x "$p" ] || { echo "$TIER: $p is missing: run make first" >&2; exit 1; }
done

work=$(mktemp -d "/tmp/corral-$TIER_PREFIX.XXXXXX")
chmod 755 "$work"
sfx=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
uA=crl-${TIER_PREFIX}a-$sfx uB=crl-${TIER_PREFIX}b-$sfx
uAdm=crl-${TIER_PREFIX}z-$sfx uN=crl-${TIER_PREFIX}n-$sfx
dir=
bgpids=
cleanup_extra=:

cleanup() {
	for p in $bgpids; do kill "$p" 2>/dev/null; done
	$cleanup_extra
	[ -n "$dir" ] && "$inst" stop "$dir" >/dev/null 2>&1
	for u in $uA $uB $uAdm $uN; do userdel "$u" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Jobs run with the caller's cwd by default; make it one every user can use.
cd /

pass=0 failed=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
# expect NAME DETAIL CMD...: ok if CMD succeeds, else FAIL with DETAIL.
expect() {
	local name=$1 detail=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$detail"; fi
}
# The closing line, and the exit status.
finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" = 0 ]
}

now_ns() { date +%s%N; }
not() { ! "$@"; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# cond; result $? NAME DETAIL: ok if cond succeeded.  ($? is expanded
# before the command substitutions DETAIL may hold.)
result() {
	if [ "$1" = 0 ]; then ok "$2"; else bad "$2" "$3"; fi
}

for u in $uA $uB $uAdm $uN; do
	useradd -M -N -g nogroup -d /nonexistent -s /bin/sh "$u" || exit 1
done
uidA=$(id -u "$uA") uidB=$(id -u "$uB") uidN=$(id -u "$uN")

# Start an instance in $work/NAME; the users join its groups as
# supplementary members (instance.sh stop deletes the groups again).
start_instance() {
	local env
	dir=$work/$1
	env=$("$inst" start "$dir") || { echo "$TIER: instance did not start" >&2; exit 1; }
	eval "$env"
	. "$dir/instance.env"
	db=${CORRAL_STATE_DIR:-$dir/state}/corral.db
	for u in $uA $uB $uAdm; do usermod -a -G "$CORRAL_GROUP" "$u"; done
	usermod -a -G "$CORRAL_ADMIN_GROUP" "$uAdm"
}

stop_instance() {
	"$inst" stop "$dir" >/dev/null 2>&1
	dir=
}

# as USER CMD...: run CMD as USER with the instance's socket.
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid=nogroup --init-groups \
		env CORRAL_SOCKET="$CORRAL_SOCKET" PATH=/usr/bin:/bin "$@"
}
cr() {
	local u=$1
	shift
	as "$u" "$corral" "$@"
}

# The store, read as the manager user so that root never creates files
# in the state directory.
sql() {
	setpriv --reuid="$mgr" --regid="$mgrp" --init-groups \
		sqlite3 -cmd '.timeout 5000' "$db" "$1"
}
field() { sql "SELECT $2 FROM jobs WHERE id = '$1'"; }
# A job's script printing c0..c(N-1), one line each 20 ms, then exit
# CODE (default 0); and those N lines, as a follower should see them.
counter() { echo "i=0; while [ \$i -lt $1 ]; do echo c\$i; i=\$((i+1)); sleep 0.02; done; exit ${2:-0}"; }
counted() { seq 0 $(($1 - 1)) | sed 's/^/c/'; }

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local n=$(($1 * 20))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}
