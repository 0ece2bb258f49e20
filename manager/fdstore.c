/* systemd's file descriptor store: running jobs survive a crash (kill -9,
 * Restart=on-failure) or a `systemctl restart` of corrald.
 *
 * With NOTIFY_SOCKET set, corrald parks the helper link ("helper") and
 * each job's output read ends ("out-<id>", "err-<id>", a -t job's pty
 * master "tty-<id>") in the store (FDSTORE=1, FDPOLL=0), and lets go of
 * each (FDSTOREREMOVE=1) once done with it.  The store holds corrald's
 * end of the link, so the helper reads no EOF when corrald dies and keeps
 * its jobs; their output waits in their pipes.  The next corrald gets the
 * fds back (LISTEN_FDS, LISTEN_FDNAMES, by name: fdnames.c), checks each
 * like a reload's, rebuilds the jobs from their rows in the store and
 * asks the helper which jobs it holds (JOBS), since a message read but
 * not acted on died with its predecessor.  By hand, no libsystemd: one
 * datagram per message.  See docs/restart.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "job.h"
#include "peek.h"
#include "proto.h"

/* A job whose fds came back: -1 where none did. */
struct taken {
	char id[JOB_ID_LEN + 1];
	int out, err, tty;
};

struct fdstore {
	int sock;		/* datagrams to NOTIFY_SOCKET */
	struct sockaddr_un addr;
	socklen_t addr_len;
	bool parked;		/* the helper link is in the store */
	int helper;		/* taken back, until adopted; -1 */
	struct taken *jobs;	/* taken back, sorted by id, until adopted */
	size_t njobs, cap;
	unsigned dropped;	/* fds closed at the take-back */
	struct peek peek;	/* job output read only once logged */
};

/* --- talking to systemd ---------------------------------------------- */

static int notify_open(struct fdstore *s, const char *path, struct cerr *e)
{
	size_t len = strlen(path);

	/* An abstract name starts with '@'; a path with '/'. */
	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof s->addr.sun_path)
		return cerr_set(e, EINVAL, "NOTIFY_SOCKET \"%.120s\" is not a socket address", path);
	s->addr.sun_family = AF_UNIX;
	memcpy(s->addr.sun_path, path, len);
	if (path[0] == '@')
		s->addr.sun_path[0] = '\0';
	s->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0)
		return cerr_sys(e, "notify socket");
	return 0;
}

/* One message; with fd, as SCM_RIGHTS beside it. */
static int notify(struct mgr *m, const char *text, int fd)
{
	struct fdstore *s = m->fds;
	char msg[FDNAME_LEN_MAX + 64];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { msg, (size_t)snprintf(msg, sizeof msg, "%s", text) };
	struct msghdr mh = { .msg_name = &s->addr, .msg_namelen = s->addr_len,
			     .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof u.b;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	while (sendmsg(s->sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		logmsg("fd store: %.40s...: %m", msg);
		return -1;
	}
	return 0;
}

void fdstore_park(struct mgr *m, int fd, enum fdname_kind kind, const char *id)
{
	char name[FDNAME_LEN_MAX + 1], msg[FDNAME_LEN_MAX + 64];

	if (!m->fds || fd < 0)
		return;
	fdname_format(kind, id, name);
	/* Only one helper link: a new one (a new helper, a reload) replaces
	 * what was parked. */
	if (kind == FDN_HELPER)
		fdstore_unpark(m, FDN_HELPER, NULL);
	snprintf(msg, sizeof msg, "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name);
	if (notify(m, msg, fd) == 0 && kind == FDN_HELPER)
		m->fds->parked = true;
}

void fdstore_unpark(struct mgr *m, enum fdname_kind kind, const char *id)
{
	char name[FDNAME_LEN_MAX + 1], msg[FDNAME_LEN_MAX + 64];

	if (!m->fds)
		return;
	fdname_format(kind, id, name);
	snprintf(msg, sizeof msg, "FDSTOREREMOVE=1\nFDNAME=%s", name);
	notify(m, msg, -1);
	if (kind == FDN_HELPER)
		m->fds->parked = false;
}

void fdstore_ready(struct mgr *m)
{
	if (m->fds)
		notify(m, "READY=1", -1);
}

bool fdstore_used(const struct mgr *m)
{
	return m->fds && m->fds->parked;
}

/* --- taking back ------------------------------------------------------- */

static void drop_fd(struct fdstore *s, int fd, const char *why)
{
	logmsg("fd store: fd %d not taken back: %s", fd, why);
	close(fd);
	s->dropped++;
}

/* One entry per fd as they come (systemd's order is not ours); merged
 * by id once all are in (merge_taken). */
static struct taken *taken_add(struct fdstore *s, const char *id)
{
	if (s->njobs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct taken *n = realloc(s->jobs, cap * sizeof *n);
		if (!n)
			return NULL;
		s->jobs = n;
		s->cap = cap;
	}
	s->jobs[s->njobs] = (struct taken){ .out = -1, .err = -1, .tty = -1 };
	memcpy(s->jobs[s->njobs].id, id, JOB_ID_LEN + 1);
	return &s->jobs[s->njobs++];
}

static void merge_fd(struct fdstore *s, int *into, int fd)
{
	if (fd < 0)
		return;
	if (*into >= 0)
		drop_fd(s, fd, "a second fd of that name");
	else
		*into = fd;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct taken *)a)->id, ((const struct taken *)b)->id);
}

/* Sorted by id, one entry per job. */
static void merge_taken(struct fdstore *s)
{
	size_t n = 0;

	qsort(s->jobs, s->njobs, sizeof *s->jobs, by_id);
	for (size_t i = 0; i < s->njobs; i++) {
		struct taken *t = &s->jobs[i], *last = n ? &s->jobs[n - 1] : NULL;
		if (!last || strcmp(last->id, t->id)) {
			s->jobs[n++] = *t;
			continue;
		}
		merge_fd(s, &last->out, t->out);
		merge_fd(s, &last->err, t->err);
		merge_fd(s, &last->tty, t->tty);
	}
	s->njobs = n;
}

static int check_kind(int fd, enum fdname_kind kind, struct cerr *e)
{
	switch (kind) {
	case FDN_HELPER:
		return check_link_fd(fd, e);
	case FDN_TTY:
		return check_master_fd(fd, e);
	default:
		return check_fd(fd, S_IFIFO, "job output", e);
	}
}

/* One fd of LISTEN_FDS: kept by its name if it is what the name says. */
static int take_one(void *ctx, unsigned i, const struct fdname *n, struct cerr *e)
{
	struct fdstore *s = ctx;
	int fd = 3 + (int)i;
	struct taken *t;
	struct cerr ce;

	(void)e;
	if (n->kind == FDN_BAD) {
		drop_fd(s, fd, "not a name corrald parks");
		return 0;
	}
	if (check_kind(fd, n->kind, &ce) < 0) {
		drop_fd(s, fd, ce.msg);
		return 0;
	}
	if (n->kind == FDN_HELPER) {
		merge_fd(s, &s->helper, fd);
		return 0;
	}
	if (!(t = taken_add(s, n->job_id))) {
		drop_fd(s, fd, "out of memory");
		return 0;
	}
	*(n->kind == FDN_OUT ? &t->out : n->kind == FDN_ERR ? &t->err : &t->tty) = fd;
	return 0;
}

static void close_taken(struct taken *t)
{
	int *fds[] = { &t->out, &t->err, &t->tty };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* The fds systemd handed back, if they are for this process. */
static int take_back(struct mgr *m, struct cerr *e)
{
	struct fdstore *s = m->fds;
	const char *pid = getenv("LISTEN_PID");
	char mine[32];
	int r = 0;

	snprintf(mine, sizeof mine, "%d", (int)getpid());
	if (pid && !strcmp(pid, mine))
		r = fdnames_each(getenv("LISTEN_FDS"), getenv("LISTEN_FDNAMES"),
				 take_one, s, e);
	/* Not for a successor (a reload's exec) nor anything corrald runs. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (r < 0)
		return cerr_wrap(e, "fd store");
	merge_taken(s);
	if (s->helper < 0 && s->njobs) {
		/* Without the link their helper cannot be reached: it read
		 * EOF and killed them, or is not ours.  Lost (find_orphans). */
		logmsg("fd store: no helper link came back; %zu job(s) not resumed", s->njobs);
		for (size_t i = 0; i < s->njobs; i++) {
			close_taken(&s->jobs[i]);
			fdstore_unpark(m, FDN_OUT, s->jobs[i].id);
			fdstore_unpark(m, FDN_ERR, s->jobs[i].id);
			fdstore_unpark(m, FDN_TTY, s->jobs[i].id);
		}
		s->njobs = 0;
	}
	if (s->helper >= 0 || s->dropped)
		logmsg("fd store: took back %s and the output of %zu job(s); %u fd(s) closed",
		       s->helper >= 0 ? "the helper link" : "no helper link",
		       s->njobs, s->dropped);
	return 0;
}

int fdstore_init(struct mgr *m, struct cerr *e)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct fdstore *s;

	if (!path)
		return 0;	/* a private instance: nothing is parked */
	s = calloc(1, sizeof *s);
	if (!s)
		return cerr_sys(e, "fd store");
	s->sock = s->helper = -1;
	s->peek = (struct peek)PEEK_INIT;
	m->fds = s;
	if (notify_open(s, path, e) < 0)
		return -1;
	/* A reload's successor has its fds from the records (resume.c);
	 * they are parked since its predecessor. */
	if (m->resume) {
		s->parked = true;
		return 0;
	}
	return take_back(m, e);
}

bool fdstore_has_job(const struct mgr *m, const char *id)
{
	struct taken key;

	if (!m->fds || !m->fds->njobs)
		return false;
	snprintf(key.id, sizeof key.id, "%s", id);
	return bsearch(&key, m->fds->jobs, m->fds->njobs, sizeof key, by_id) != NULL;
}

/* A job from its row and its fds; the fds are the job's (or closed) after. */
static int adopt_job(struct mgr *m, struct taken *t, struct cerr *e)
{
	struct taken_row row;
	struct job *j;
	int out = t->tty >= 0 ? t->tty : t->out;

	if (store_taken(m->store, t->id, &row, e) < 0)
		return -1;
	if (t->tty >= 0 && t->out >= 0)
		return cerr_set(e, EBADF, "both a terminal and an output pipe");
	j = calloc(1, sizeof *j);
	if (!j)
		return cerr_sys(e, "job %s", t->id);
	memcpy(j->id, t->id, sizeof j->id);
	j->out.fd = j->err.fd = j->in.fd = -1;
	if (!(j->log = logf_reopen(m, t->id, e))) {
		free(j);
		return -1;
	}
	j->uid = row.uid;
	j->priority = row.priority;
	j->seq = ++m->q_seq;
	j->started = row.running;
	j->timeout_ms = row.timeout_ms;
	if (row.running && row.timeout_ms) {
		int64_t left = row.started_ms + (int64_t)row.timeout_ms - now_ms();
		j->timeout_at = mono_ms() + (left > 0 ? left : 0);
	}
	/* -t: the terminal stays the job's, but nobody types to it now: the
	 * connection that fed it died with corrald (-i: the stdin pipe's
	 * write end was not parked, so the job reads EOF). */
	if (t->tty >= 0 && input_resume(m, j, -1, RF_TTY | RF_IN_EOF, NULL, 0, e) < 0)
		logmsg("job %s: %s", t->id, e->msg);
	j->resync = true;
	job_link(m, j);
	if ((out >= 0 && add_pipe(m, j, &j->out, out, STREAM_STDOUT, e) < 0) ||
	    (t->err >= 0 && add_pipe(m, j, &j->err, t->err, STREAM_STDERR, e) < 0))
		logmsg("job %s: %s", t->id, e->msg);
	t->out = t->err = t->tty = -1;
	return 0;
}

int fdstore_adopt(struct mgr *m, struct cerr *e)
{
	struct fdstore *s = m->fds;
	unsigned jobs = 0;

	if (!s || s->helper < 0)
		return 0;
	if (helper_adopt(m, s->helper, 0, true, e) < 0)
		return -1;
	s->helper = -1;
	s->parked = true;
	for (size_t i = 0; i < s->njobs; i++) {
		struct taken *t = &s->jobs[i];
		struct cerr je;
		if (adopt_job(m, t, &je) == 0) {
			jobs++;
			continue;
		}
		/* Its row says it ended, or it has none: the helper's answer
		 * to JOBS has it killed if it still runs. */
		logmsg("fd store: job %s not taken back: %s", t->id, je.msg);
		if (je.num != ENOENT &&
		    store_set_lost(m->store, t->id, "corrald restarted; its output could not be taken back",
				   now_ms(), &je) < 0)
			logmsg("job %s: %s", t->id, je.msg);
		close_taken(t);
		fdstore_unpark(m, FDN_OUT, t->id);
		fdstore_unpark(m, FDN_ERR, t->id);
		fdstore_unpark(m, FDN_TTY, t->id);
	}
	free(s->jobs);
	s->jobs = NULL;
	s->njobs = s->cap = 0;
	logmsg("fd store: resumed %u job(s); asking the helper which it holds", jobs);
	/* The helper's version first: one too old for JOBS cannot re-sync;
	 * one that can re-execs too, so a new helper binary takes effect. */
	m->helper_resync = true;
	m->helper_reexec = true;
	hlink_hello(m);
	return 1;
}

/* --- the re-sync with the helper ------------------------------------------ */

static void lose_unsynced(struct mgr *m, const char *why, bool kill)
{
	struct job *j = m->active, *next;
	struct cerr e;

	for (; j; j = next) {
		next = j->next;
		if (!j->resync)
			continue;
		j->resync = false;
		if (kill && hlink_signal(m, j->id, SIGKILL, false, &e) < 0)
			logmsg("job %s: kill: %s", j->id, e.msg);
		job_lose(m, j, why);
	}
}

void fdstore_version(struct mgr *m)
{
	struct wire_out o;
	struct cerr e;

	if (!m->helper_resync)
		return;
	m->helper_resync = false;
	if (m->helper_version < 3) {
		/* As before this design: a restart loses the running jobs. */
		logmsg("the helper (link version %u) cannot say which jobs it holds; the jobs taken back are lost",
		       m->helper_version);
		return lose_unsynced(m, "corrald restarted; its helper is too old to resume jobs", true);
	}
	wire_out_init(&o, &proto_helper_req, H_JOBS);
	if (wire_out_finish(&o, &e) < 0 || wire_send_packet(m->helper_fd, &o, &e) < 0) {
		logmsg("helper JOBS: %s", e.msg);
		lose_unsynced(m, "corrald restarted; the helper could not be asked for its jobs", true);
	}
	wire_out_free(&o);
}

/* A STARTED read but not recorded before the crash. */
static void held_started(struct mgr *m, struct job *j, uint32_t pid)
{
	struct cerr e;

	if (store_set_running(m->store, j->id, pid, now_ms(), &e) < 0) {
		logmsg("job %s: %s", j->id, e.msg);
		return;
	}
	j->started = true;
	if (j->timeout_ms)
		j->timeout_at = mono_ms() + (int64_t)j->timeout_ms;
}

/* An end the helper told already: news only to a job taken back that
 * still waits for it, whose EXITED died with the predecessor (read, not
 * yet recorded).  For every other job it is old: recorded already. */
static void held_ended(struct mgr *m, struct job *j, const struct wire_msg *msg)
{
	struct helper_event ev = {
		.type = H_EXITED, .name = "HELD (ended)", .fd = -1,
		.wstatus = wire_u32(msg, F_WSTATUS, 0),
		.oom_kills = wire_u64(msg, F_OOM_KILLS, STAT_NONE),
		.cpu_usec = wire_u64(msg, F_CPU_USEC, 0),
		.memory_peak = wire_u64(msg, F_MEMORY_PEAK, STAT_NONE),
	};

	if (!j || !j->resync)
		return;
	j->resync = false;
	if (j->exited)
		return;		/* its EXITED waited in the link: handled */
	ev.job_id = j->id;
	logmsg("job %s: its end came again from the helper", j->id);
	job_helper_event(m, &ev);
}

/* A stop or kill under way when corrald died (the job's audit says one
 * was carried out): its kill after the grace died with corrald, so the
 * job would run on.  Carried on, the grace counted from the request. */
static void held_restop(struct mgr *m, struct job *j)
{
	struct taken_row row;
	struct cerr e;

	if (store_taken(m->store, j->id, &row, &e) < 0) {
		logmsg("job %s: %s", j->id, e.msg);
		return;
	}
	if (!row.stop_action[0])
		return;
	logmsg("job %s: a %s was under way; carrying it on", j->id, row.stop_action);
	if (job_restop(m, j, row.stop_action, row.stop_ms, row.stop_detail, &e) < 0)
		logmsg("job %s: %s: %s", j->id, row.stop_action, e.msg);
}

void fdstore_held(struct mgr *m, const struct wire_msg *msg)
{
	const char *id = wire_str(msg, F_JOB_ID);
	uint32_t fl = wire_u32(msg, F_R_FLAGS, 0);
	struct job *j = job_find(m, id);
	struct cerr e;

	if (fl & RF_ENDED)
		return held_ended(m, j, msg);
	if (!j) {
		/* corrald has no row or no output for it: nobody would see
		 * its end.  Killed, and recorded if it was still running. */
		logmsg("job %s: held by the helper, but its output did not come back; killing it", id);
		if (hlink_signal(m, id, SIGKILL, false, &e) < 0)
			logmsg("job %s: kill: %s", id, e.msg);
		if (store_set_lost(m->store, id, "corrald restarted without its output",
				   now_ms(), &e) < 0)
			logmsg("job %s: %s", id, e.msg);
		return;
	}
	if (!j->resync)
		return;		/* started by this corrald: nothing to mend */
	j->resync = false;
	/* An EXITED or START_FAILED still to come says the rest. */
	if ((fl & RF_STARTED) && !j->started && !j->exited)
		held_started(m, j, wire_u32(msg, F_PID, 0));
	if (!(fl & RF_EXITED) && !j->exited)
		held_restop(m, j);
}

void fdstore_held_end(struct mgr *m, const struct wire_msg *msg)
{
	m->helper_pid = (pid_t)wire_u32(msg, F_PID, 0);
	if (wire_has(msg, F_MAX_JOBS))
		m->helper_max_jobs = wire_u32(msg, F_MAX_JOBS, 0);
	m->q_kick = true;
	/* Its end was read and died with the predecessor. */
	lose_unsynced(m, "corrald restarted; the helper no longer held the job", false);
	logmsg("re-synced with the helper (pid %d)", (int)m->helper_pid);
}

/* --- the byte at the crash ------------------------------------------------- */

/* With the store in use, a job pipe's bytes are consumed only once the
 * log holds them (peek.c): a kill -9 between the two repeats that chunk
 * after the restart instead of losing it; at SIGTERM the loop is between
 * events, so nothing repeats.  Without the store no corrald comes back
 * to read the pipe; a -t job's pty master is no pipe: read as before. */
ssize_t fdstore_peek(struct mgr *m, int fd, bool is_pipe, uint8_t *buf, size_t cap)
{
	ssize_t n;

	if (!is_pipe || !fdstore_used(m))
		return read(fd, buf, cap);
	n = peek_pipe(&m->fds->peek, fd, buf, cap);
	if (n < 0 && errno == EINVAL)
		return read(fd, buf, cap);
	return n;
}

void fdstore_drop(struct mgr *m, int fd, bool is_pipe, size_t n)
{
	if (!is_pipe || !fdstore_used(m))
		return;		/* read() consumed them already */
	if (peek_drop(&m->fds->peek, fd, n) < 0)
		logmsg("fd store: could not drop %zu logged bytes from a job pipe: %m", n);
}
