/* Reload in place.  On SIGHUP corrald stops accepting, lets every
 * connection come to rest (between requests, or following a log, or
 * waiting in the queue), writes what its successor needs as records of
 * proto_resume into a memfd, clears CLOEXEC on the fds it hands over
 * (listener, lock, helper link, the jobs' pipes, the connections) and
 * execs its binary as it is on disk now, with the same pid, so the helper
 * stays its child.  The successor reads the records back, checks every fd
 * it is given, re-reads everything else from its configuration, the
 * store and the log files, asks the kernel again who each client is, and
 * goes on.  See docs/restart.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "job.h"
#include "proto.h"

#define RELOAD_REST_MS 2000	/* connections get this long to come to rest */
#define STATE_MAX (64u << 20)	/* records of 10,000 jobs and clients fit */
#define STATE_FD_ENV "CORRALD_STATE_FD"

struct resume {
	struct wire_msg *recs;	/* recs[0] is R_MGR */
	size_t n, cap;
};

/* --- writing --------------------------------------------------------- */

static int put_mgr(struct mgr *m, int sfd, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_resume, R_MGR);
	wire_put_u32(&o, F_R_VERSION, RESUME_VERSION);
	wire_put_str(&o, F_R_PATH, m->self_path);
	wire_put_u32(&o, F_R_FD, (uint32_t)m->listen_fd);
	wire_put_u32(&o, F_R_LOCK_FD, (uint32_t)m->lock_fd);
	wire_put_u64(&o, F_R_INO, (uint64_t)m->socket_ino);
	if (m->helper_fd >= 0) {
		wire_put_u32(&o, F_R_HELPER_FD, (uint32_t)m->helper_fd);
		if (m->helper_pid > 0)	/* 0: taken back at a restart, not said yet */
			wire_put_u32(&o, F_PID, (uint32_t)m->helper_pid);
		if (m->helper_max_jobs)
			wire_put_u32(&o, F_MAX_JOBS, m->helper_max_jobs);
		wire_put_u32(&o, F_R_FLAGS, m->helper_ready ? RF_HELPER_READY : 0);
	}
	wire_put_u64(&o, F_R_SEQ, m->q_seq);
	return wire_write_file(sfd, &o, e);
}

static uint32_t job_flags(const struct job *j)
{
	return (j->started ? RF_STARTED : 0) | (j->exited ? RF_EXITED : 0) |
	       (j->failed ? RF_FAILED : 0) | (j->lost ? RF_LOST : 0) |
	       (j->log->cap_drop ? RF_CAP_DROP : 0) |
	       (j->log->failing ? RF_FAILING : 0) | (j->hangup ? RF_HANGUP : 0);
}

static void put_log(struct wire_out *o, const struct logf *l)
{
	wire_put_u64(o, F_R_OUTPUT, l->output);
	wire_put_u64(o, F_LOG_BYTES, l->stored);
	wire_put_u64(o, F_LOG_DROPPED, l->dropped);
	wire_put_u64(o, F_R_LEFT_OUT, l->left_out);
	wire_put_u64(o, F_R_GAP_OUTPUT, l->gap_output);
	wire_put_u64(o, F_R_MARK_EVERY, l->mark_every);
	wire_put_u64(o, F_R_FAILED_BYTES, l->failed_bytes);
}

static int put_job(int sfd, const struct job *j, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_resume, R_JOB);
	wire_put_str(&o, F_JOB_ID, j->id);
	wire_put_u32(&o, F_UID, j->uid);
	if (j->out.fd >= 0)
		wire_put_u32(&o, F_R_FD, (uint32_t)j->out.fd);
	if (j->err.fd >= 0)
		wire_put_u32(&o, F_R_FD2, (uint32_t)j->err.fd);
	wire_put_u32(&o, F_R_FLAGS, job_flags(j) | input_record_flags(j));
	if (j->in.fd >= 0)
		wire_put_u32(&o, F_R_IN_FD, (uint32_t)j->in.fd);
	if (j->in.fd >= 0 && j->in.held && j->in.off < j->in.len)
		wire_put_bytes(&o, F_DATA, j->in.held + j->in.off,
			       j->in.len - j->in.off);
	wire_put_u32(&o, F_R_REASON, j->reason);
	wire_put_u32(&o, F_R_PENDING, (uint32_t)j->pending);
	wire_put_u64(&o, F_TIMEOUT_MS, j->timeout_ms);
	wire_put_u64(&o, F_R_TIMEOUT_AT, (uint64_t)j->timeout_at);
	wire_put_u64(&o, F_R_KILL_AT, (uint64_t)j->kill_at);
	wire_put_u64(&o, F_R_DRAIN_AT, (uint64_t)j->drain_at);
	wire_put_u64(&o, F_PRIORITY, j->priority);
	wire_put_u64(&o, F_R_SEQ, j->seq);
	if (j->cwd)
		wire_put_str(&o, F_CWD, j->cwd);
	if (j->argv0)
		wire_put_str(&o, F_ARGV, j->argv0);
	if (j->failed && j->stage)
		wire_put_u32(&o, F_STAGE, j->stage);
	wire_put_u32(&o, F_ERRNO, (uint32_t)j->fail_errno & 4095);
	wire_put_str(&o, F_MESSAGE, j->why);
	wire_put_u64(&o, F_ENDED_MS, (uint64_t)j->ended_ms);
	wire_put_u32(&o, F_WSTATUS, j->wstatus & 0xffff);
	wire_put_u64(&o, F_OOM_KILLS, j->oom_kills);
	wire_put_u64(&o, F_CPU_USEC, j->cpu_usec);
	wire_put_u64(&o, F_MEMORY_PEAK, j->memory_peak);
	put_log(&o, j->log);
	return wire_write_file(sfd, &o, e);
}

static int put_client(int sfd, const struct client *c, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_resume, R_CLIENT);
	wire_put_u32(&o, F_R_FD, (uint32_t)c->fd);
	if (c->who.via[0])
		wire_put_str(&o, F_VIA, c->who.via);
	if (c->hup_id[0])
		wire_put_str(&o, F_R_HUP_ID, c->hup_id);
	if (c->in_job)
		wire_put_str(&o, F_R_IN_ID, c->in_job->id);
	if (c->input)
		wire_put_u32(&o, F_R_FLAGS, RF_INPUT);
	if (c->state == SS_FOLLOW) {
		wire_put_u32(&o, F_R_KIND, R_CL_FOLLOW);
		wire_put_str(&o, F_JOB_ID, c->f.job_id);
		wire_put_u32(&o, F_STREAMS, c->f.streams);
		wire_put_u32(&o, F_FOLLOW, c->f.live);
		wire_put_u64(&o, F_R_OFFSET, c->f.off);
		wire_put_u64(&o, F_R_REC_END, c->f.rec_end);
		wire_put_u64(&o, F_R_END, c->f.end);
	} else if (c->state == SS_RUN) {
		wire_put_u32(&o, F_R_KIND, R_CL_QUEUED);
		wire_put_str(&o, F_JOB_ID, queue_job_id(c->run_q));
	} else {
		wire_put_u32(&o, F_R_KIND, R_CL_IDLE);
	}
	return wire_write_file(sfd, &o, e);
}

static int write_state(struct mgr *m, int sfd, struct cerr *e)
{
	if (put_mgr(m, sfd, e) < 0)
		return -1;
	for (struct job *j = m->active; j; j = j->next)
		if (put_job(sfd, j, e) < 0)
			return -1;
	for (struct client *c = m->clients; c; c = c->all_next)
		if (put_client(sfd, c, e) < 0)
			return -1;
	if (lseek(sfd, 0, SEEK_SET) < 0)
		return cerr_sys(e, "resume records");
	return 0;
}

/* Every fd the successor gets loses CLOEXEC for the exec (keep false);
 * if the exec fails they get it back. */
static void hand_fd(int fd, bool keep)
{
	if (fd >= 0)
		fcntl(fd, F_SETFD, keep ? FD_CLOEXEC : 0);
}

static void hand_all(struct mgr *m, bool keep)
{
	hand_fd(m->listen_fd, keep);
	hand_fd(m->lock_fd, keep);
	hand_fd(m->helper_fd, keep);
	for (struct job *j = m->active; j; j = j->next) {
		hand_fd(j->out.fd, keep);
		hand_fd(j->err.fd, keep);
		hand_fd(j->in.fd, keep);
	}
	for (struct client *c = m->clients; c; c = c->all_next)
		hand_fd(c->fd, keep);
}

static void reload_resume_service(struct mgr *m)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->listen_ev };

	m->reload_at = 0;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->listen_fd, &ev) < 0)
		logmsg("reload: listener back: %m");
	clients_freeze(m);	/* they read requests again */
}

static void reload_exec(struct mgr *m)
{
	_cleanup_close_ int sfd = memfd_create("corrald-resume", MFD_CLOEXEC);
	static char arg0[] = "corrald", arg1[] = "-c";
	char *argv[] = { arg0, arg1, m->conf_path, NULL };
	char num[16];
	struct cerr e;

	if (sfd < 0 || write_state(m, sfd, &e) < 0) {
		if (sfd < 0)
			cerr_sys(&e, "memfd");
		logmsg("reload failed (%s); going on as before", e.msg);
		return reload_resume_service(m);
	}
	snprintf(num, sizeof num, "%d", sfd);
	hand_all(m, false);
	hand_fd(sfd, false);
	if (setenv(STATE_FD_ENV, num, 1) == 0) {
		logmsg("reload: exec %s", m->self_path);
		fflush(stderr);
		execv(m->self_path, argv);
	}
	logmsg("reload: exec %s: %m; going on as before", m->self_path);
	unsetenv(STATE_FD_ENV);
	hand_all(m, true);
	reload_resume_service(m);
}

void reload_begin(struct mgr *m)
{
	struct mgr_conf conf = { 0 };
	struct cerr e;

	if (m->stop_at || m->reload_at || m->listen_fd < 0)
		return;
	/* A configuration the successor would refuse stops the reload
	 * here, while this corrald can still go on. */
	if (mconf_load(&conf, m->conf_path, &e) < 0) {
		logmsg("reload refused: %s", e.msg);
		mconf_free(&conf);
		return;
	}
	mconf_free(&conf);
	if (access(m->self_path, X_OK) < 0) {
		logmsg("reload refused: %s: %m", m->self_path);
		return;
	}
	logmsg("reload: waiting for connections to come to rest");
	m->reload_at = mono_ms() + RELOAD_REST_MS;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->listen_fd, NULL);
	clients_freeze(m);
}

void reload_poll(struct mgr *m)
{
	struct client *c, *next;
	int closed = 0;

	for (c = m->clients; c; c = c->all_next)
		if (!client_at_rest(m, c))
			break;
	if (c && mono_ms() < m->reload_at)
		return;
	/* Past the deadline: what is not at rest (a request half sent, a
	 * long listing) is closed; clients reconnect. */
	for (c = m->clients; c; c = next) {
		next = c->all_next;
		if (!client_at_rest(m, c)) {
			/* Closed by the reload, not by its user: no hang-up
			 * (the client reconnects). */
			c->hup_id[0] = '\0';
			client_close(m, c);
			closed++;
		}
	}
	if (closed)
		logmsg("reload: closed %d connection(s) not at rest after %d ms",
		       closed, RELOAD_REST_MS);
	reload_exec(m);
}

/* --- reading ----------------------------------------------------------- */

static void resume_free(struct mgr *m)
{
	struct resume *r = m->resume;

	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		wire_msg_free(&r->recs[i]);
	free(r->recs);
	free(r);
	m->resume = NULL;
}

static int keep_record(void *ctx, struct wire_msg *m, struct cerr *e)
{
	struct resume *r = ctx;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct wire_msg *nr = realloc(r->recs, cap * sizeof *nr);
		if (!nr) {
			wire_msg_free(m);
			return cerr_sys(e, "resume records");
		}
		r->recs = nr;
		r->cap = cap;
	}
	r->recs[r->n++] = *m;
	return 0;
}

static int read_records(struct resume *r, const uint8_t *buf, size_t len,
			struct cerr *e)
{
	if (wire_decode_each(&proto_resume, buf, len, keep_record, r, e) < 0)
		return cerr_wrap(e, "resume records");
	if (!r->n || r->recs[0].type != R_MGR)
		return cerr_set(e, EBADMSG, "resume records: no R_MGR first");
	if (wire_u32(&r->recs[0], F_R_VERSION, 0) != RESUME_VERSION)
		return cerr_set(e, EPROTO, "the reloading corrald handed over resume records of version %u; this corrald reads version %u (restart instead)",
				wire_u32(&r->recs[0], F_R_VERSION, 0), RESUME_VERSION);
	return 0;
}

static int state_fd(struct cerr *e)
{
	const char *v = getenv(STATE_FD_ENV);
	char *end;
	long fd;

	if (!v)
		return -1;
	fd = strtol(v, &end, 10);
	unsetenv(STATE_FD_ENV);
	if (*end || fd < 3 || fd > INT_MAX)
		return cerr_set(e, EINVAL, "%s is not an fd number", STATE_FD_ENV);
	return (int)fd;
}

/* A handed-over fd (a reload's, or the fd store's at a restart) is
 * taken only if it is open and of the kind named; CLOEXEC again at
 * once. */
int check_fd(int fd, mode_t kind, const char *what, struct cerr *e)
{
	struct stat st;

	if (fd < 3 || fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != kind)
		return cerr_set(e, EBADF, "handed over: %s (fd %d) is not what it should be",
				what, fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* The helper link: a SOCK_SEQPACKET socket. */
int check_link_fd(int fd, struct cerr *e)
{
	int type = 0;
	socklen_t len = sizeof type;

	if (check_fd(fd, S_IFSOCK, "helper link", e) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return cerr_set(e, EBADF, "handed over: fd %d is not a helper link", fd);
	return fd;
}

/* A -t job's pty master (only a master answers TIOCGPTN). */
int check_master_fd(int fd, struct cerr *e)
{
	unsigned n;

	if (check_fd(fd, S_IFCHR, "job terminal", e) < 0 || ioctl(fd, TIOCGPTN, &n) < 0)
		return cerr_set(e, EBADF, "handed over: job terminal (fd %d) is not a pty master", fd);
	return fd;
}

static int adopt_lock(struct mgr *m, struct cerr *e)
{
	const struct wire_msg *mg = &m->resume->recs[0];
	int fd = check_fd((int)wire_u32(mg, F_R_LOCK_FD, 0), S_IFREG, "lock", e);

	/* Held by this open file already: taking it again must succeed. */
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return cerr_set(e, EBADF, "resume records: the state directory lock is not held");
	m->lock_fd = fd;
	return 0;
}

int resume_read(struct mgr *m, struct cerr *e)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	e->num = 0;
	fd = state_fd(e);
	if (fd < 0)
		return e->num ? -1 : 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX)
		return cerr_set(e, EBADF, "resume records: fd %d is not a state file", fd);
	buf = malloc((size_t)st.st_size + 1);
	m->resume = calloc(1, sizeof *m->resume);
	if (!buf || !m->resume)
		return cerr_sys(e, "resume records");
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size)
		return cerr_sys(e, "resume records");
	if (read_records(m->resume, buf, (size_t)n, e) < 0 || adopt_lock(m, e) < 0)
		return -1;
	m->self_path = strdup(wire_str(&m->resume->recs[0], F_R_PATH));
	if (!m->self_path)
		return cerr_sys(e, "resume records");
	logmsg("resuming: %zu record(s) from the reloading corrald", m->resume->n - 1);
	return 0;
}

bool resume_has_job(const struct mgr *m, const char *id)
{
	if (!m->resume)
		return false;
	for (size_t i = 1; i < m->resume->n; i++)
		if (m->resume->recs[i].type == R_JOB &&
		    !strcmp(wire_str(&m->resume->recs[i], F_JOB_ID), id))
			return true;
	return false;
}

/* --- taking over --------------------------------------------------------- */

static int adopt_listen(struct mgr *m, const struct wire_msg *mg, struct cerr *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->listen_ev };
	int fd = check_fd((int)wire_u32(mg, F_R_FD, 0), S_IFSOCK, "listener", e);
	int on = 0;
	socklen_t len = sizeof on;

	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
		return cerr_set(e, EBADF, "resume records: fd %d does not listen", fd);
	m->listen_fd = fd;
	m->socket_ino = (ino_t)wire_u64(mg, F_R_INO, 0);
	m->listen_ev.type = EV_LISTEN;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return cerr_sys(e, "epoll");
	return 0;
}

static int adopt_helper(struct mgr *m, const struct wire_msg *mg, struct cerr *e)
{
	int fd;

	if (!wire_has(mg, F_R_HELPER_FD))
		return helper_spawn(m, e);	/* it was down: a new one */
	fd = check_link_fd((int)wire_u32(mg, F_R_HELPER_FD, 0), e);
	if (fd < 0)
		return -1;
	m->helper_max_jobs = wire_u32(mg, F_MAX_JOBS, 0);
	return helper_adopt(m, fd, (pid_t)wire_u32(mg, F_PID, 0),
			    wire_u32(mg, F_R_FLAGS, 0) & RF_HELPER_READY, e);
}

static void take_log(struct logf *l, const struct wire_msg *r)
{
	uint32_t fl = wire_u32(r, F_R_FLAGS, 0);

	l->output = wire_u64(r, F_R_OUTPUT, l->output);
	l->stored = wire_u64(r, F_LOG_BYTES, l->stored);
	l->dropped = wire_u64(r, F_LOG_DROPPED, 0);
	l->left_out = wire_u64(r, F_R_LEFT_OUT, 0);
	l->gap_output = wire_u64(r, F_R_GAP_OUTPUT, 0);
	l->mark_every = wire_u64(r, F_R_MARK_EVERY, 0);
	l->failed_bytes = wire_u64(r, F_R_FAILED_BYTES, 0);
	l->cap_drop = fl & RF_CAP_DROP;
	l->failing = fl & RF_FAILING;
}

static char *dup_or_null(const struct wire_msg *r, uint16_t id)
{
	return wire_has(r, id) ? strdup(wire_str(r, id)) : NULL;
}

static void take_job(struct job *j, const struct wire_msg *r)
{
	uint32_t fl = wire_u32(r, F_R_FLAGS, 0);

	j->uid = wire_u32(r, F_UID, 0);
	j->started = fl & RF_STARTED;
	j->exited = fl & RF_EXITED;
	j->failed = fl & RF_FAILED;
	j->lost = fl & RF_LOST;
	j->hangup = fl & RF_HANGUP;
	j->reason = (enum end_reason)wire_u32(r, F_R_REASON, END_NONE);
	j->pending = (int)wire_u32(r, F_R_PENDING, 0);
	j->timeout_ms = wire_u64(r, F_TIMEOUT_MS, 0);
	j->timeout_at = (int64_t)wire_u64(r, F_R_TIMEOUT_AT, 0);
	j->kill_at = (int64_t)wire_u64(r, F_R_KILL_AT, 0);
	j->drain_at = (int64_t)wire_u64(r, F_R_DRAIN_AT, 0);
	j->priority = (uint32_t)wire_u64(r, F_PRIORITY, 0);
	j->seq = wire_u64(r, F_R_SEQ, 0);
	j->cwd = dup_or_null(r, F_CWD);
	j->argv0 = dup_or_null(r, F_ARGV);
	j->stage = wire_u32(r, F_STAGE, 0);
	j->fail_errno = (int)wire_u32(r, F_ERRNO, 0);
	snprintf(j->why, sizeof j->why, "%s", wire_str(r, F_MESSAGE) ? wire_str(r, F_MESSAGE) : "");
	j->ended_ms = (int64_t)wire_u64(r, F_ENDED_MS, 0);
	j->wstatus = wire_u32(r, F_WSTATUS, 0);
	j->oom_kills = wire_u64(r, F_OOM_KILLS, STAT_NONE);
	j->cpu_usec = wire_u64(r, F_CPU_USEC, 0);
	j->memory_peak = wire_u64(r, F_MEMORY_PEAK, STAT_NONE);
}

static int pipe_fd(const struct wire_msg *r, uint16_t id, struct cerr *e)
{
	if (!wire_has(r, id))
		return -1;	/* at EOF already */
	return check_fd((int)wire_u32(r, id, 0), S_IFIFO, "job output", e);
}

/* -t: a pty master (only a master answers TIOCGPTN). */
static int master_fd(const struct wire_msg *r, uint16_t id, struct cerr *e)
{
	if (!wire_has(r, id))
		return -1;
	return check_master_fd((int)wire_u32(r, id, 0), e);
}

/* -i: the write end of the job's stdin pipe. */
static int stdin_fd(const struct wire_msg *r, struct cerr *e)
{
	int fd = pipe_fd(r, F_R_IN_FD, e);

	if (fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return cerr_set(e, EBADF, "resume records: job input (fd %d) is not a pipe's write end", fd);
	return fd;
}

/* A job's input tie (docs/tty.md): its fd, its state, held bytes. */
static int adopt_input(struct mgr *m, struct job *j, const struct wire_msg *r,
		       struct cerr *e)
{
	uint32_t fl = wire_u32(r, F_R_FLAGS, 0);
	int fd = fl & RF_TTY ? master_fd(r, F_R_IN_FD, e) : stdin_fd(r, e);
	const uint8_t *held;
	size_t len = 0;

	if (fd < 0 && wire_has(r, F_R_IN_FD)) {
		/* Not taken: no connection feeds it (a terminal is hung up
		 * once its master is the job's output). */
		input_resume(m, j, -1, fl & ~RF_IN_TIED, NULL, 0, e);
		return -1;
	}
	if (!(fl & (RF_TTY | RF_IN_TIED)) && fd < 0)
		return 0;	/* no -i or -t, or its input is over */
	held = wire_bytes(r, F_DATA, &len);
	return input_resume(m, j, fd, fl, held, len, e);
}

static int adopt_job(struct mgr *m, const struct wire_msg *r, struct cerr *e)
{
	const char *id = wire_str(r, F_JOB_ID);
	bool tty = wire_u32(r, F_R_FLAGS, 0) & RF_TTY;
	int out = tty ? master_fd(r, F_R_FD, e) : pipe_fd(r, F_R_FD, e);
	int err = pipe_fd(r, F_R_FD2, e);
	struct job *j;

	if ((out < 0 && wire_has(r, F_R_FD)) || (err < 0 && wire_has(r, F_R_FD2)))
		return -1;
	j = calloc(1, sizeof *j);
	if (!j)
		return cerr_sys(e, "job %s", id);
	snprintf(j->id, sizeof j->id, "%s", id);
	j->out.fd = j->err.fd = j->in.fd = -1;
	if (!(j->log = logf_reopen(m, id, e))) {
		free(j);
		return -1;
	}
	take_job(j, r);
	take_log(j->log, r);
	job_link(m, j);
	if ((out >= 0 && add_pipe(m, j, &j->out, out, STREAM_STDOUT, e) < 0) ||
	    (err >= 0 && add_pipe(m, j, &j->err, err, STREAM_STDERR, e) < 0))
		logmsg("job %s: %s", id, e->msg);
	if (adopt_input(m, j, r, e) < 0) {
		logmsg("job %s: %s; its input ends", id, e->msg);
		job_tty_hangup(m, j);
	}
	/* An end that was waiting (its write failed, or its pipes closed
	 * during the exec) is tried from the timer at once. */
	if (j->exited)
		j->end_retry_at = mono_ms();
	return 0;
}

/* A job that cannot be taken over must not run on unseen: killed, and
 * recorded lost. */
static void drop_job(struct mgr *m, const struct wire_msg *r, const char *why)
{
	const char *id = wire_str(r, F_JOB_ID);
	char msg[MESSAGE_LEN_MAX];
	struct cerr e;

	logmsg("reload: job %s not taken over: %s; killing it", id, why);
	snprintf(msg, sizeof msg, "not taken over at a reload: %.900s", why);
	if (hlink_signal(m, id, SIGKILL, false, &e) < 0)
		logmsg("job %s: kill: %s", id, e.msg);
	if (store_set_lost(m->store, id, msg, now_ms(), &e) < 0)
		logmsg("job %s: %s", id, e.msg);
}

static void adopt_client(struct mgr *m, const struct wire_msg *r)
{
	const char *id = wire_str(r, F_JOB_ID);
	struct client *c;
	struct job *j;
	struct cerr e;
	int fd = check_fd((int)wire_u32(r, F_R_FD, 0), S_IFSOCK, "connection", &e);

	if (fd < 0) {
		logmsg("%s", e.msg);
		return;
	}
	c = client_adopt(m, fd, wire_str(r, F_VIA));
	if (!c)
		return;
	if (wire_has(r, F_R_HUP_ID))	/* an attached run: still tied */
		snprintf(c->hup_id, sizeof c->hup_id, "%s", wire_str(r, F_R_HUP_ID));
	if (wire_u32(r, F_R_FLAGS, 0) & RF_INPUT)
		c->input = true;	/* late INPUT is dropped, not refused */
	if (wire_has(r, F_R_IN_ID) && (j = job_find(m, wire_str(r, F_R_IN_ID))))
		input_retie(m, c, j);
	switch (wire_u32(r, F_R_KIND, R_CL_IDLE)) {
	case R_CL_FOLLOW:
		if (!id || follow_start(m, c, id, wire_u32(r, F_STREAMS, 0),
					wire_u32(r, F_FOLLOW, 0), &e) < 0) {
			logmsg("reload: a follower of job %s: %s", id ? id : "-",
			       id ? e.msg : "no job");
			return client_close(m, c);
		}
		c->f.off = wire_u64(r, F_R_OFFSET, 0);
		c->f.rec_end = wire_u64(r, F_R_REC_END, 0);
		c->f.end = wire_u64(r, F_R_END, 0);
		break;
	case R_CL_QUEUED:
		if (!id || queue_attach(m, c, id) < 0) {
			reply_error(c, EAGAIN, STAGE_NONE,
				    "corrald reloaded; job %s is no longer queued (see corral status)",
				    id ? id : "-");
			c->closing = true;
		}
		break;
	}
	client_kick(m, c);
}

int resume_adopt(struct mgr *m, struct cerr *e)
{
	const struct wire_msg *mg = &m->resume->recs[0];
	uint64_t seq = wire_u64(mg, F_R_SEQ, 0);
	unsigned jobs = 0, clients = 0;

	if (adopt_listen(m, mg, e) < 0 || adopt_helper(m, mg, e) < 0)
		return -1;
	/* The helper reloads too: asked once it says it can. */
	if (m->helper_ready) {
		m->helper_reexec = true;
		hlink_hello(m);
	}
	if (seq > m->q_seq)
		m->q_seq = seq;
	for (size_t i = 1; i < m->resume->n; i++) {
		const struct wire_msg *r = &m->resume->recs[i];
		struct cerr je;
		if (r->type != R_JOB)
			continue;
		if (adopt_job(m, r, &je) < 0)
			drop_job(m, r, je.msg);
		else
			jobs++;
	}
	for (size_t i = 1; i < m->resume->n; i++) {
		if (m->resume->recs[i].type != R_CLIENT)
			continue;
		adopt_client(m, &m->resume->recs[i]);
		clients++;
	}
	input_orphans(m);
	logmsg("resumed: %u job(s), %u connection(s)", jobs, clients);
	resume_free(m);
	return 0;
}
