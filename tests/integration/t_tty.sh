# corral run -i and -t (docs/tty.md): sourced by run.sh, with its own
# instance.  -t is driven from tmux, a real terminal: the pane runs
# `corral run -it -- bash`, keys go in with send-keys, the screen comes
# back with capture-pane.
# shellcheck shell=bash

start_instance tty
# This file's own files, apart from the other tests' in $work.
tw=$work/t_tty
mkdir -p "$tw"
chmod 755 "$tw"

# -i: bytes, all of them, in order, then EOF.
t_input_pipe() {
	local src=$tw/in.bin sum_in sum_out n
	head -c $((100 * 1024 * 1024)) /dev/urandom >"$src"
	chmod 644 "$src"
	sum_in=$(sha256sum <"$src" | cut -d' ' -f1)
	sum_out=$(cr "$uA" run -q -i -- sha256sum <"$src" | cut -d' ' -f1)
	expect input_100mib_sha256 "in $sum_in, out $sum_out" test "$sum_in" = "$sum_out"
	n=$(printf 'abc' | cr "$uA" run -q -i -- wc -c)
	expect input_eof "wc -c read \"$n\"" test "$n" = 3
	# Without -i the job's stdin is /dev/null, as before.
	n=$(printf 'abc' | cr "$uA" run -q -- wc -c)
	expect input_not_without_i "wc -c read \"$n\"" test "$n" = 0
	rm -f "$src"
}

# A job that does not read blocks its client; corrald holds one chunk.
t_input_bounded() {
	local before after out rc
	before=$(awk '/^VmRSS/ { print $2 }' "/proc/$CORRALD_PID/status")
	out=$( (head -c $((300 * 1024 * 1024)) /dev/zero | cr "$uA" run -q -i -- sleep 2) 2>&1); rc=$?
	after=$(awk '/^VmRSS/ { print $2 }' "/proc/$CORRALD_PID/status")
	expect input_unread_ends "rc=$rc: $out" test "$rc" = 0
	expect input_bounded "corrald RSS $before kB -> $after kB with 300 MiB unread" \
		test $((after - before)) -lt 16384
}

t_input_refused() {
	local out rc
	out=$(cr "$uA" run -d -i -- cat 2>&1); rc=$?
	expect input_detached_refused "rc=$rc: $out" sh -c '[ "$1" = 125 ] && printf %s "$2" | grep -q "attached"' _ "$rc" "$out"
	out=$(cr "$uA" run -t --no-mount -- true 2>&1); rc=$?
	expect tty_no_mount_refused "rc=$rc: $out" sh -c '[ "$1" = 125 ] && printf %s "$2" | grep -q "mount namespace"' _ "$rc" "$out"
}

# --- -t, in tmux ----------------------------------------------------------

tsock=$tw/tmux.sock
tm() { tmux -S "$tsock" "$@"; }
screen() { tm capture-pane -p -J -S -200 -t tt; }
# on_screen SECONDS PATTERN: wait until the pane shows PATTERN.
on_screen() { wait_for "$1" sh -c 'tmux -S "$1" capture-pane -p -J -S -200 -t tt | grep -q -- "$2"' _ "$tsock" "$2"; }
keys() { tm send-keys -t tt "$@"; }
line() { tm send-keys -t tt -l "$1"; tm send-keys -t tt Enter; }

t_tty() {
	local vdir=$tw/vi rc before after
	mkdir -p "$vdir"
	chown "$uA" "$vdir"
	# The pane's shell: the terminal's settings before and after, and
	# corral's exit status, into files.
	cat >"$tw/pane.sh" <<-EOF
	stty -g >"$tw/stty.before"
	setpriv --reuid=$uA --regid=nogroup --init-groups \\
		env CORRAL_SOCKET=$CORRAL_SOCKET PATH=/usr/bin:/bin TERM=screen LANG=C.UTF-8 \\
		$corral run -q -it --env PS1='P> ' --cwd "$vdir" -- bash --norc --noprofile -i
	echo \$? >"$tw/tty.rc"
	stty -g >"$tw/stty.after"
	sleep 600
	EOF
	tm -f /dev/null new -d -s tt -x 80 -y 24 "sh $tw/pane.sh"
	cleanup_extra="tmux -S $tsock kill-server"
	expect tty_prompt "no prompt: $(screen | tail -3)" on_screen 10 '^P> '

	line 'tty | sed s/pts/PTS/; echo LANG=$LANG TERM=$TERM'
	expect tty_is_pts "$(screen | tail -4)" on_screen 5 '^/dev/PTS/[0-9]'
	expect tty_env_passed "$(screen | tail -3)" on_screen 5 '^LANG=C.UTF-8 TERM=screen'
	line 'ls -l $(tty) | cut -d" " -f1,3'
	expect tty_owned_by_user "$(screen | tail -3)" on_screen 5 "^crw------- $uA"

	line 'stty size | tr " " x'
	expect tty_size_start "$(screen | tail -3)" on_screen 5 '^24x80'
	tm resize-window -t tt -x 100 -y 30
	sleep 0.3
	line 'stty size | tr " " y'
	expect tty_size_follows "$(screen | tail -3)" on_screen 5 '^30y100'

	# ^C reaches the foreground job through the pty; the shell lives.
	line 'sleep 100'
	sleep 0.3
	keys C-c
	line 'echo alive-$((6*7))'
	expect tty_ctrl_c "$(screen | tail -4)" on_screen 3 '^alive-42'
	# ^\ as well (the shell says Quit).
	line 'sleep 100'
	sleep 0.3
	keys 'C-\'
	expect tty_ctrl_backslash "$(screen | tail -4)" on_screen 3 'Quit'
	# ^Z stops it, fg brings it back, ^C ends it.
	line 'sleep 100'
	sleep 0.3
	keys C-z
	expect tty_ctrl_z "$(screen | tail -4)" on_screen 3 'Stopped'
	line 'fg'
	sleep 0.3
	keys C-c
	line 'jobs | wc -l | sed s/^/jobs-/'
	expect tty_fg "$(screen | tail -4)" on_screen 3 '^jobs-0'

	line 'vi note.txt'
	sleep 1
	keys i
	tm send-keys -t tt -l 'written in vi'
	keys Escape
	line ':wq'
	expect tty_vi "file: $(cat "$vdir/note.txt" 2>&1)" \
		wait_for 5 grep -qx 'written in vi' "$vdir/note.txt"

	line 'python3 -q'
	expect tty_python_prompt "$(screen | tail -3)" on_screen 5 '^>>> '
	line '6*7'
	expect tty_python_eval "$(screen | tail -3)" on_screen 5 '^42$'
	line 'exit()'

	line 'exit 3'
	wait_for 5 test -s "$tw/tty.rc"
	rc=$(cat "$tw/tty.rc" 2>/dev/null)
	expect tty_exit_code "corral exited \"$rc\"" test "$rc" = 3
	before=$(cat "$tw/stty.before" 2>/dev/null)
	after=$(cat "$tw/stty.after" 2>/dev/null)
	expect tty_restored "stty before $before, after $after" \
		test -n "$before" -a "$before" = "$after"
	tm kill-server
	cleanup_extra=:
}

# A -t job whose client vanishes (kill -9: no chance to stop it) is hung
# up: corrald closes the master, the kernel sends SIGHUP (and the hang-up
# of any attached run follows: HUP, TERM, ignored here, then the stop).
hup_running() { cr "$uA" status ttyhup 2>/dev/null | grep -q '^state: *running'; }
hup_exited() { cr "$uA" status ttyhup 2>/dev/null | grep -q '^exit code: *7'; }
t_tty_hangup() {
	local hdir=$tw/hup pc id st
	mkdir -p "$hdir"
	chown "$uA" "$hdir"
	script -qec "setpriv --reuid=$uA --regid=nogroup --init-groups env CORRAL_SOCKET=$CORRAL_SOCKET $corral run -q -t --name ttyhup -- sh -c 'trap \"echo hup >$hdir/trap; exit 7\" HUP; trap \"\" TERM; sleep 100 & wait'" /dev/null </dev/null >/dev/null 2>&1 &
	wait_for 10 hup_running
	pc=$(pgrep -u "$uA" -f "corral run -q -t --name ttyhup")
	kill -9 $pc
	wait_for 5 test -s "$hdir/trap"
	wait_for 5 hup_exited
	st=$(cr "$uA" status ttyhup 2>&1)
	expect tty_hangup_sighup "trap file: $(cat "$hdir/trap" 2>&1); $st" \
		sh -c 'grep -qx hup "$1" && printf %s "$2" | grep -q "^exit.*7"' _ "$hdir/trap" "$st"
}

# The protocol's edges: INPUT from a connection that ran no -i job; any
# other request while corrald follows the job; two -i jobs on one link.
t_input_raw() {
	local c out rc
	for c in input inseq twoinput; do
		out=$(as "$uA" "$raw" "$CORRAL_SOCKET" $c 2>&1); rc=$?
		expect "input_raw_$c" "rc=$rc: $out" test $rc = 0
	done
	expect input_raw_corrald_alive "corrald $CORRALD_PID gone" kill -0 "$CORRALD_PID"
}

# The terminal's size reaches a -t job before it starts, also when it
# starts later from the queue (its RUN then comes back from the store).
t_tty_size_queued() {
	local id out
	id=$(cr "$uA" run -d -- sleep 1)
	out=$(timeout 20 script -qec "stty rows 22 cols 77; setpriv --reuid=$uA --regid=nogroup --init-groups env CORRAL_SOCKET=$CORRAL_SOCKET $corral run -q -t --after $id -- stty size" /dev/null </dev/null 2>&1)
	expect tty_size_queued "out: $out" sh -c 'printf %s "$1" | grep -q "22 77"' _ "$out"
}

# A reload hands a job's input tie over (docs/tty.md, restart.md).
resumes() { grep -c '^corrald: resumed:' "$dir/corrald.log"; }
# feed FILE: its 40 blocks of 64 KiB, one each 0.1 s.
feed() {
	local i
	for i in $(seq 0 39); do
		dd if="$1" bs=65536 skip="$i" count=1 2>/dev/null
		sleep 0.1
	done
}
# -i: a client typing slowly across the reload, and one whose job does
# not read yet (corrald holds a chunk the job has not taken); every byte
# arrives once.  -t: the shell in tmux goes on after the reload.
t_input_reload() {
	local src=$tw/slow.bin big=$tw/held.bin n sum_in sum_big a b
	head -c $((40 * 65536)) /dev/urandom >"$src"
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$big"
	chmod 644 "$src" "$big"
	sum_in=$(sha256sum <"$src" | cut -d' ' -f1)
	sum_big=$(sha256sum <"$big" | cut -d' ' -f1)
	n=$(resumes)
	feed "$src" | cr "$uA" run -q -i -- sha256sum >"$tw/slow.out" 2>&1 &
	# It reads only after the 2 s a connection not at rest would get.
	cr "$uA" run -q -i -- sh -c 'sleep 5; sha256sum' <"$big" >"$tw/held.out" 2>&1 &
	sleep 1.5
	kill -HUP "$CORRALD_PID"
	wait_for 10 sh -c '[ "$(grep -c "^corrald: resumed:" "$1")" -gt "$2" ]' _ "$dir/corrald.log" "$n"
	wait
	a=$(cut -d' ' -f1 "$tw/slow.out") b=$(cut -d' ' -f1 "$tw/held.out")
	expect input_reload_resumed "resumed $(resumes) times (was $n); $(grep 'not at rest' "$dir/corrald.log" | tail -n 1)" \
		sh -c '[ "$1" -gt "$2" ] && ! grep -q "not at rest" "$3"' _ "$(resumes)" "$n" "$dir/corrald.log"
	expect input_reload_every_byte_once "in $sum_in, out $(cat "$tw/slow.out")" test "$a" = "$sum_in"
	expect input_reload_held_bytes "in $sum_big, out $(cat "$tw/held.out")" test "$b" = "$sum_big"
	rm -f "$src" "$big"
	t_tty_reload
}

t_tty_reload() {
	local n rc
	mkdir -p "$tw/ttyr"
	chown "$uA" "$tw/ttyr"
	cat >"$tw/reload.sh" <<-EOF
	setpriv --reuid=$uA --regid=nogroup --init-groups \\
		env CORRAL_SOCKET=$CORRAL_SOCKET PATH=/usr/bin:/bin TERM=screen \\
		$corral run -q -it --env PS1='R> ' -- bash --norc --noprofile -i
	echo \$? >"$tw/reload.rc"
	sleep 600
	EOF
	rm -f "$tw/reload.rc"
	tm -f /dev/null new -d -s tt -x 80 -y 24 "sh $tw/reload.sh"
	cleanup_extra="tmux -S $tsock kill-server"
	expect tty_reload_prompt "no prompt: $(screen | tail -3)" on_screen 10 '^R> '
	line "trap 'echo hup >$tw/ttyr/trap' HUP; echo before-\$((6*7))"
	on_screen 5 '^before-42'
	n=$(resumes)
	kill -HUP "$CORRALD_PID"
	wait_for 10 sh -c '[ "$(grep -c "^corrald: resumed:" "$1")" -gt "$2" ]' _ "$dir/corrald.log" "$n"
	tm send-keys -t tt -l 'echo aft'
	line 'er-$((7*8))'
	expect tty_reload_echoes "$(screen | tail -4)" on_screen 5 '^after-56'
	expect tty_reload_no_hangup "the job's HUP trap ran" test ! -e "$tw/ttyr/trap"
	line 'exit 3'
	wait_for 5 test -s "$tw/reload.rc"
	rc=$(cat "$tw/reload.rc" 2>/dev/null)
	expect tty_reload_exit_code "corral exited \"$rc\"" test "$rc" = 3
	tm kill-server
	cleanup_extra=:
}

t_input_pipe
t_input_reload
t_tty_size_queued
t_input_raw
t_input_bounded
t_tty_hangup
t_input_refused
t_tty

stop_instance
