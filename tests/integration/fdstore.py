#!/usr/bin/env python3
"""A stand-in for systemd's file descriptor store, for the host tier
(systemd is not pid 1 here): what systemd 252 was seen to do in the
package tier's probe (docs/restart.md, "What systemd 252 does").

    fdstore.py DIR -- COMMAND...

Binds DIR/notify.sock (a datagram socket) and runs COMMAND (corrald, by
way of setpriv) with NOTIFY_SOCKET pointing at it.  Keeps every fd sent
with FDSTORE=1 under its FDNAME (FDSTOREREMOVE=1 closes every fd of that
name); READY=1 is noted in DIR/fdstore.ready.  When COMMAND dies, for
whatever reason (kill -9, or its exit after SIGTERM: a "restart"), it is
started again with the stored fds at 3, 4, ... and LISTEN_FDS,
LISTEN_FDNAMES and LISTEN_PID (set in the child, after the fork), in
reverse order of storing (systemd's order is not the stored one either).
SIGUSR1 is "systemctl stop": every stored fd is closed, then COMMAND gets
SIGTERM, and this process exits once it is gone.  SIGUSR2 makes the store
do what a test says in DIR/fdstore.ctl, a line each: "forget TEXT" closes
every stored fd whose name holds TEXT; "inject NAME pipe" stores the read
end of a new pipe (its write end closed) as NAME, "inject NAME null"
/dev/null: what corrald must sort out when it takes them back.  COMMAND's pid is kept
in DIR/corrald.pid; a line per start goes to stderr.
"""
import ctypes
import fcntl
import os
import signal
import socket
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    sys.stderr.write("fdstore: %s\n" % msg)
    sys.stderr.flush()


class Store:
    def __init__(self, d, argv):
        self.dir = d
        self.argv = argv
        self.fds = []  # (name, fd), in the order stored
        self.pid = 0
        self.stopping = False
        self.path = os.path.join(d, "notify.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.setblocking(False)

    def start(self):
        fds = list(reversed(self.fds))
        pid = os.fork()
        if pid == 0:
            self.child(fds)
        self.pid = pid
        with open(os.path.join(self.dir, "corrald.pid.new"), "w") as f:
            f.write("%d\n" % pid)
        os.rename(os.path.join(self.dir, "corrald.pid.new"),
                  os.path.join(self.dir, "corrald.pid"))
        log("started pid %d with %d fd(s)" % (pid, len(fds)))

    def child(self, fds):
        try:
            # Out of the way first (above every fd held), then at 3, 4,
            # ... in order.
            base = max([fd for _, fd in fds] + [3]) + 1
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, base) for _, fd in fds]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)
            os.closerange(3 + len(fds), 65536)
            env = dict(os.environ)
            env["NOTIFY_SOCKET"] = self.path
            env.pop("LISTEN_FDS", None)
            env.pop("LISTEN_FDNAMES", None)
            env.pop("LISTEN_PID", None)
            if fds:
                env["LISTEN_FDS"] = str(len(fds))
                env["LISTEN_FDNAMES"] = ":".join(n for n, _ in fds)
                env["LISTEN_PID"] = str(os.getpid())
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            os.execvpe(self.argv[0], self.argv, env)
        finally:
            os._exit(127)

    def message(self):
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(64 * 4))
        except BlockingIOError:
            return False
        got = []
        for level, kind, buf in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                n = len(buf) // 4
                got += list(memoryview(buf)[:n * 4].cast("i"))
        kv = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
        if kv.get("FDSTORE") == "1" and "FDNAME" in kv:
            for fd in got:
                self.fds.append((kv["FDNAME"], fd))
            got = []
        elif kv.get("FDSTOREREMOVE") == "1" and "FDNAME" in kv:
            keep = []
            for name, fd in self.fds:
                if name == kv["FDNAME"]:
                    os.close(fd)
                else:
                    keep.append((name, fd))
            self.fds = keep
        if kv.get("READY") == "1":
            with open(os.path.join(self.dir, "fdstore.ready"), "a") as f:
                f.write("%d\n" % self.pid)
        for fd in got:
            os.close(fd)
        return True

    def control(self):
        with open(os.path.join(self.dir, "fdstore.ctl")) as f:
            for line in f:
                w = line.split()
                if len(w) == 2 and w[0] == "forget":
                    for name, fd in [x for x in self.fds if w[1] in x[0]]:
                        os.close(fd)
                    self.fds = [x for x in self.fds if w[1] not in x[0]]
                elif len(w) == 3 and w[0] == "inject" and w[2] == "pipe":
                    r, wr = os.pipe()
                    os.close(wr)
                    self.fds.append((w[1], r))
                elif len(w) == 3 and w[0] == "inject" and w[2] == "null":
                    self.fds.append((w[1], os.open("/dev/null", os.O_RDONLY)))
        log("did %s" % os.path.join(self.dir, "fdstore.ctl"))

    def stop(self):
        for _, fd in self.fds:
            os.close(fd)
        self.fds = []
        self.stopping = True
        if self.pid:
            os.kill(self.pid, signal.SIGTERM)

    def reap(self):
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid != self.pid:
                continue  # a helper left by a dead corrald, reparented here
            log("pid %d ended (%s)" % (pid, st))
            self.pid = 0
            # Empty the queue first: what the dead one sent counts.
            while self.message():
                pass
            if self.stopping:
                sys.exit(0)
            time.sleep(0.1)  # RestartSec=, short
            self.start()


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: fdstore.py DIR -- COMMAND...")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    st = Store(sys.argv[1], sys.argv[3:])
    stop, ctl = [], []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGUSR2, lambda *_: ctl.append(1))
    st.start()
    while True:
        if stop and not st.stopping:
            st.stop()
        while st.message():
            pass
        if ctl:
            ctl.clear()
            st.control()
        if st.stopping and not st.pid:
            sys.exit(0)
        while st.message():
            pass
        st.reap()
        time.sleep(0.02)


if __name__ == "__main__":
    main()
