/* Starting the setuid helper the way corrald does, and the manager end
 * of the helper link: bounded waits, a queue of events not yet claimed,
 * and raw sends for the hostile tests. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

/* Every helper ever spawned, so atexit can still kill it. */
static pid_t live[32];

static void remember(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(live); i++)
		if (!live[i]) {
			live[i] = pid;
			return;
		}
}

static void forget(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(live); i++)
		if (live[i] == pid)
			live[i] = 0;
}

void helpers_kill_all(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(live); i++)
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
}

static void child_tty(int master)
{
	int fd;

	setsid();
	fd = open(ptsname(master), O_RDWR);	/* becomes the controlling tty */
	if (fd < 0)
		_exit(125);
	dup2(fd, 0);
	close(fd);
}

static void child_ids(const struct spawn_opts *o)
{
	uid_t uid = o->uid ? o->uid : S.mgr_uid;
	gid_t g[2] = { o->uid ? o->gid : S.mgr_gid, o->extra_gid };

	if (o->as_root)
		return;
	if (setgroups(o->extra_gid ? 2 : 1, g) < 0 ||
	    setresgid(g[0], g[0], g[0]) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
}

/* A network of the helper's own, never the host's: a netns with the
 * bridge crlt-br, and nft hidden (a mount namespace of its own, /dev/null
 * bound over it), for the proof that a missing nft is said, not skipped. */
static void child_own_net(void)
{
	const char *add[] = { "/usr/sbin/ip", "link", "add", "crlt-br", "type", "bridge", NULL };
	const char *up[] = { "/usr/sbin/ip", "link", "set", "crlt-br", "up", NULL };

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("/dev/null", "/usr/sbin/nft", NULL, MS_BIND, NULL) < 0 ||
	    run_cmd(add) != 0 || run_cmd(up) != 0)
		_exit(121);
}

static void child_fds(int sock, int report, int extra, int resume)
{
	char path[PATH_MAX + 32];

	/* Lift them out of the way first: any may sit on 3, 4 or 5. */
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 100);
	int r = fcntl(report, F_DUPFD_CLOEXEC, 100);
	int st = resume > 0 ? fcntl(resume, F_DUPFD_CLOEXEC, 100) : -1;

	if (s < 0 || r < 0 || dup2(s, 3) < 0 || dup3(r, 4, O_CLOEXEC) < 0 ||
	    (resume > 0 && (st < 0 || dup2(st, 5) < 0)))
		_exit(124);
	close_range(resume > 0 ? 6 : 5, ~0u, 0);
	/* A file only this suite opens, so its fds are recognisable. */
	snprintf(path, sizeof path, "%s/inherited", S.tmpdir);
	for (int i = 0; i < extra; i++)
		if (open(path, O_RDONLY) < 0)
			_exit(123);
}

static void child_exec(int sock, int master, int report,
		       const struct spawn_opts *o)
{
	static char marker[PATH_MAX + 64], preload[PATH_MAX + 16],
		libpath[PATH_MAX + 32], gconv[PATH_MAX + 16];
	const char *argv[] = { "corral-helper-test", NULL, NULL, NULL };
	const char *plain[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	const char *hostile[] = {
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", preload, libpath, gconv,
		"GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.tcache_count=0",
		"MALLOC_CHECK_=3", marker, "IFS=/", "CRLT_HOSTILE=1", NULL
	};

	snprintf(preload, sizeof preload, "LD_PRELOAD=%s", S.preload);
	snprintf(libpath, sizeof libpath, "LD_LIBRARY_PATH=%s", S.tmpdir);
	snprintf(gconv, sizeof gconv, "GCONV_PATH=%s", S.tmpdir);
	snprintf(marker, sizeof marker, "CRLT_PRELOAD_MARKER=%s/preload-marker",
		 S.tmpdir);
	if (o->tty)
		child_tty(master);
	if (o->own_net)
		child_own_net();
	child_ids(o);
	child_fds(sock, report, o->extra_fds, o->resume_fd);
	report = 4;
	if (o->resume_fd > 0) {
		argv[1] = "--resume";
		argv[2] = "5";
	}
	execve(S.helper, (char *const *)(uintptr_t)argv,
	       (char *const *)(uintptr_t)(o->hostile_env ? hostile : plain));
	/* The report pipe is CLOEXEC: it carries something only when
	 * execve itself failed, so a test can tell that from a refusal. */
	if (write(report, &errno, sizeof errno) < 0)
		_exit(122);
	_exit(127);
}

static int open_pty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		if (m >= 0)
			close(m);
		return -1;
	}
	return m;
}

int helper_spawn(struct helper *h, const struct spawn_opts *o)
{
	static const struct spawn_opts dflt;
	int sv[2], rep[2], master = -1;
	pid_t pid;
	ssize_t n;

	o = o ? o : &dflt;
	memset(h, 0, sizeof *h);
	h->sock = -1;
	h->pty = -1;
	if (o->tty && (master = open_pty()) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (pipe2(rep, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child_exec(sv[1], master, rep[1], o);
	close(sv[1]);
	close(rep[1]);
	n = read(rep[0], &h->exec_errno, sizeof h->exec_errno);
	if (n != sizeof h->exec_errno)
		h->exec_errno = 0;
	close(rep[0]);
	remember(pid);
	h->pid = pid;
	h->sock = sv[0];
	h->pty = master;
	return 0;
}

int helper_wait_ready(struct helper *h, int timeout_ms)
{
	struct wire_msg m;
	const char *c;

	if (helper_next(h, TBIT(H_READY), NULL, NULL, timeout_ms, &m) != 1)
		return -1;
	h->ready_pid = wire_u32(&m, F_PID, 0);
	c = wire_str(&m, F_CONTROLLERS);
	snprintf(h->controllers, sizeof h->controllers, "%s", c ? c : "");
	wire_msg_free(&m);
	return 0;
}

int helper_start(struct helper *h, const struct policy *p,
		 const struct spawn_opts *o)
{
	/* One helper per cgroup base: the one h holds goes first. */
	if (h->pid > 0 && !h->reaped)
		helper_stop(h);
	if (policy_write(p) < 0 || helper_spawn(h, o) < 0)
		return -1;
	if (helper_wait_ready(h, WAIT_MS) < 0) {
		helper_stop(h);
		fprintf(stderr, "harness: the helper sent no READY (exit status 0x%x)\n",
			h->exit_status);
		return -1;
	}
	return 0;
}

int helper_wait_exit(struct helper *h, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (!h->reaped) {
		pid_t r = waitpid(h->pid, &h->exit_status, WNOHANG);
		if (r == h->pid) {
			h->reaped = true;
			forget(h->pid);
			break;
		}
		if (r < 0 || now_ms() >= end)
			return -1;
		usleep(5000);
	}
	return 0;
}

void helper_stop(struct helper *h)
{
	if (h->sock >= 0)
		close(h->sock);
	h->sock = -1;
	if (h->pid > 0 && helper_wait_exit(h, 5000) < 0) {
		fprintf(stderr, "harness: helper %d did not exit on EOF; killing it\n",
			h->pid);
		kill(h->pid, SIGKILL);
		helper_wait_exit(h, 5000);
	}
	for (int i = 0; i < h->nq; i++)
		wire_msg_free(&h->q[i]);
	h->nq = 0;
	if (h->pty >= 0)
		close(h->pty);
	h->pty = -1;
}

/* ---- receiving ---------------------------------------------------------- */

static bool matches(const struct wire_msg *m, uint32_t types, const char *id)
{
	const char *mid;

	if (m->type < H_READY || !(types & TBIT(m->type)))
		return false;
	if (!id || m->type == H_ERROR)
		return true;
	mid = wire_str(m, F_JOB_ID);
	return mid && !strcmp(mid, id);
}

static bool take_queued(struct helper *h, uint32_t types, const char *id,
			struct wire_msg *out)
{
	for (int i = 0; i < h->nq; i++) {
		if (!matches(&h->q[i], types, id))
			continue;
		*out = h->q[i];
		memmove(&h->q[i], &h->q[i + 1], (size_t)(h->nq - i - 1) * sizeof *h->q);
		h->nq--;
		return true;
	}
	return false;
}

void pipe_drain(int *fd, char *buf, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(*fd, tmp, sizeof tmp);

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(*fd);
			*fd = -1;
		}
		return;
	}
	if ((size_t)n > cap - 1 - *len)
		n = (ssize_t)(cap - 1 - *len);
	memcpy(buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

static int recv_one(struct helper *h)
{
	struct wire_msg m;
	struct cerr e;
	int rc = wire_recv_packet(h->sock, &proto_helper_ev, &m, &e);

	if (rc == WIRE_EOF) {
		h->eof = true;
		return -1;
	}
	if (rc != WIRE_READY) {
		fprintf(stderr, "harness: bad message from the helper: %s\n", e.msg);
		return rc == WIRE_AGAIN ? 0 : -1;
	}
	if (h->nq == (int)ARRAY_SIZE(h->q)) {
		fprintf(stderr, "harness: event queue full, dropping the oldest\n");
		wire_msg_free(&h->q[0]);
		memmove(&h->q[0], &h->q[1], (size_t)(h->nq - 1) * sizeof *h->q);
		h->nq--;
	}
	h->q[h->nq++] = m;
	return 0;
}

/* One poll round over the link and the job's pipes. */
static int pump(struct helper *h, struct job *j, int timeout_ms)
{
	struct pollfd p[3] = { { h->eof ? -1 : h->sock, POLLIN, 0 },
			       { j ? j->out : -1, POLLIN, 0 },
			       { j ? j->err : -1, POLLIN, 0 } };

	if (poll(p, 3, timeout_ms) < 0)
		return errno == EINTR ? 0 : -1;
	if (p[1].revents)
		pipe_drain(&j->out, j->outbuf, sizeof j->outbuf, &j->outlen);
	if (p[2].revents)
		pipe_drain(&j->err, j->errbuf, sizeof j->errbuf, &j->errlen);
	if (p[0].revents)
		return recv_one(h);
	return 0;
}

/* The next event of one of types (for job_id, if given), reading the
 * job's pipes meanwhile.  1: got it; 0: timed out; -1: link gone. */
int helper_next(struct helper *h, uint32_t types, const char *job_id,
		struct job *j, int timeout_ms, struct wire_msg *out)
{
	long end = now_ms() + timeout_ms;

	for (;;) {
		long left = end - now_ms();
		if (take_queued(h, types, job_id, out))
			return 1;
		if (h->sock < 0 || h->eof)
			return -1;
		if (left <= 0)
			return 0;
		if (pump(h, j, (int)left) < 0 && !h->eof)
			return -1;
	}
}

/* ---- sending what wire_out_finish would refuse ------------------------ */

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

/* Fill in the header of a message built with the wire_put_* calls without
 * validating it: the hostile tests need messages a correct sender never
 * produces. */
void out_seal(struct wire_out *o)
{
	le32(o->buf, WIRE_MAGIC);
	le16(o->buf + 4, WIRE_VERSION);
	le16(o->buf + 6, o->type);
	le32(o->buf + 8, (uint32_t)(o->len - WIRE_HDR_LEN));
}

/* One datagram with any number of fds (the kernel caps it, not us). */
int raw_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	_cleanup_free_ char *ctl = NULL;

	if (nfds > 0) {
		struct cmsghdr *c;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		ctl = calloc(1, mh.msg_controllen);
		if (!ctl)
			return -ENOMEM;
		mh.msg_control = ctl;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}
