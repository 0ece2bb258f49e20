#!/bin/sh
# What Debian 12's systemd (252) does with the pieces of the crash and
# restart design of docs/restart.md, probed with stand-in units, not with
# corral.  Run by tests/pkg/run.sh in place of pkgtest.sh (make pkg-probe);
# prints "@@R probe ok|FAIL detail" lines like the package test.
#
#   fdstore     the fd store keeps a pipe's read end and a socket across
#               `systemctl restart` and kill -9 + Restart=on-failure (no
#               counter line lost or repeated); `systemctl stop` empties
#               it, so the far end of the socket reads EOF
#   one_unit    a delegated unit whose subgroups hold processes with
#               controllers enabled in the unit's group (what corral-helper
#               does with cgroup_base = self) cannot start a new main
#               process: 219/CGROUP ("no internal processes")
#   two_units   helper and jobs in a second delegated unit with
#               StopWhenUnneeded=yes: they outlive kill -9 and restart of
#               the main unit, and its stop takes them and their cgroup
P=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
U=/etc/systemd/system
CG=/sys/fs/cgroup/system.slice

ok() { echo "@@R $1 ok $2"; }
fail() {
	echo "@@R $1 FAIL $2"
	journalctl --no-pager -b -n 40 2>&1 | grep -v 'This usually'
}
mp() { systemctl show -p MainPID --value "$1"; }
prop() { systemctl show -p "$2" --value "$1"; }
# Wait up to $1 tenths of a second for a command to succeed.
wait_for() {
	n=$1
	shift
	until "$@"; do
		[ $((n -= 1)) -ge 0 ] || return 1
		sleep 0.1
	done
}
journal() { journalctl -u "$1" -o cat --no-pager; }
# Counter lines read by successive main processes: none lost, none twice.
no_gap() {
	journal "$1" | sed -n 's/^read c//p' |
		awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad || NR < 30 }'
}
gone() { [ ! -d "$1" ]; }
install -m 0755 "$P/fdkeep" /usr/local/bin/fdkeep

echo "@@R boot ok systemd=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') cgroup=$(stat -fc %T /sys/fs/cgroup)"

# ---- fdstore -----------------------------------------------------------------
printf '%s\n' '[Service]' ExecStart=/usr/local/bin/fdkeep NotifyAccess=main \
	FileDescriptorStoreMax=16 KillMode=process Restart=on-failure RestartSec=1 >$U/probe-fd.service
systemctl daemon-reload
systemctl start probe-fd
sleep 2
systemctl restart probe-fd
sleep 2
took=$(journal probe-fd | grep -c 'from the store')
p=$(mp probe-fd)
kill -9 "$p"
wait_for 50 sh -c '[ "$(systemctl show -p MainPID --value probe-fd)" != 0 ] && [ "$(systemctl show -p MainPID --value probe-fd)" != '"$p"' ]'
sleep 2
took2=$(journal probe-fd | grep -c 'from the store')
restarts=$(prop probe-fd NRestarts)
systemctl stop probe-fd
wait_for 30 gone $CG/probe-fd.service
eof=$(journal probe-fd | grep -c "helper link EOF")
# ... and only at the stop: after the last main process took the fds back.
eof_at=$(journal probe-fd | grep -n "helper link EOF" | cut -d: -f1)
last_take=$(journal probe-fd | grep -n "from the store" | tail -n 1 | cut -d: -f1)
lines=$(journal probe-fd | grep -c '^read c')
names=$(journal probe-fd | sed -n "s/.*LISTEN_FDNAMES=\([^ ]*\).*/\1/p" | tail -n 1)
if [ "$took" = 1 ] && [ "$took2" = 2 ] && [ "$restarts" = 1 ] && no_gap probe-fd && [ "$eof" = 1 ] && [ "$eof_at" -gt "$last_take" ] &&
	gone $CG/probe-fd.service; then
	ok fdstore "stored=pipe,link given_back=$names kept_at_restart=yes kept_at_crash=yes counter_lines=$lines no_gap=yes released_at_stop=yes cgroup=removed"
else
	journal probe-fd | grep -v '^read c'
	fail fdstore "taken_back=$took,$took2 nrestarts=$restarts lines=$lines eof=$eof"
fi

# ---- one_unit ----------------------------------------------------------------
cat >/usr/local/bin/probe-one <<'SH'
#!/bin/sh
g=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ ! -d "$g/jobs/j1" ]; then
	mkdir -p "$g/daemon" "$g/jobs/j1"
	echo $$ >"$g/daemon/cgroup.procs"
	echo '+memory +pids' >"$g/cgroup.subtree_control"
	echo '+memory +pids' >"$g/jobs/cgroup.subtree_control"
	sh -c "echo \$\$ >$g/jobs/j1/cgroup.procs; exec sleep 1001" &
fi
exec sleep 1002
SH
chmod 0755 /usr/local/bin/probe-one
printf '%s\n' '[Service]' ExecStart=/usr/local/bin/probe-one Delegate=yes KillMode=process \
	Restart=on-failure RestartSec=1 >$U/probe-one.service
systemctl daemon-reload
systemctl start probe-one
wait_for 50 pgrep -x -f 'sleep 1001' >/dev/null
systemctl restart probe-one
sleep 2
st=$(prop probe-one ExecMainStatus)
job=$(cat $CG/probe-one.service/jobs/j1/cgroup.procs 2>/dev/null)
systemctl stop probe-one
pkill -x -f 'sleep 1001'
if [ "$st" = 219 ] && [ -n "$job" ]; then
	ok one_unit "restart_with_survivors=219/CGROUP survivor=$job"
else
	fail one_unit "exec_main_status=$st survivor=$job"
fi

# ---- two_units ---------------------------------------------------------------
J=$CG/probe-jobs.service
cat >/usr/local/bin/probe-main <<'SH'
#!/bin/sh
# Like corral-helper with cgroup_base = the jobs unit's group: it moves
# that unit's main process and itself to daemon/, a job to jobs/j1.
J=/sys/fs/cgroup/system.slice/probe-jobs.service
if [ ! -d "$J/jobs/j1" ]; then
	mkdir -p "$J/daemon" "$J/jobs/j1"
	for p in $(cat "$J/cgroup.procs"); do echo "$p" >"$J/daemon/cgroup.procs"; done
	J=$J sh -c 'echo $$ >$J/daemon/cgroup.procs
		echo "+memory +pids" >$J/cgroup.subtree_control
		echo "+memory +pids" >$J/jobs/cgroup.subtree_control
		sh -c "echo \$\$ >$J/jobs/j1/cgroup.procs; exec sleep 1003" &
		exec sleep 1004' &
fi
exec sleep 1005
SH
chmod 0755 /usr/local/bin/probe-main
printf '%s\n' '[Unit]' Wants=probe-jobs.service After=probe-jobs.service \
	'[Service]' ExecStart=/usr/local/bin/probe-main KillMode=mixed Restart=on-failure RestartSec=1 \
	>$U/probe-main.service
printf '%s\n' '[Unit]' StopWhenUnneeded=yes '[Service]' 'ExecStart=/bin/sleep infinity' Delegate=yes \
	>$U/probe-jobs.service
systemctl daemon-reload
systemctl start probe-main
wait_for 50 pgrep -x -f 'sleep 1003' >/dev/null
job=$(cat $J/jobs/j1/cgroup.procs 2>/dev/null)
p=$(mp probe-main)
kill -9 "$p"
wait_for 50 sh -c '[ "$(systemctl show -p MainPID --value probe-main)" != 0 ] && [ "$(systemctl show -p MainPID --value probe-main)" != '"$p"' ]'
after_crash=$(cat $J/jobs/j1/cgroup.procs 2>/dev/null)
systemctl restart probe-main
after_restart=$(cat $J/jobs/j1/cgroup.procs 2>/dev/null)
m=$(systemctl is-active probe-main)
systemctl stop probe-main
left=$(pgrep -c -f 'sleep 100[345]')
cgs=$(find $J -maxdepth 0 2>/dev/null | wc -l)
wait_for 30 gone "$J"
if [ -n "$job" ] && [ "$after_crash" = "$job" ] && [ "$after_restart" = "$job" ] && [ "$m" = active ] &&
	[ "$left" = 0 ] && [ "$cgs" = 0 ]; then
	ok two_units "job_kept_at_crash=yes job_kept_at_restart=yes at_stop_return:procs=$left cgroup=removed"
else
	fail two_units "job=$job after_crash=$after_crash after_restart=$after_restart main=$m left_at_stop=$left cgroup_at_stop=$cgs"
fi
echo "@@DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
