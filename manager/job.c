/* The run-time side of jobs: pipes, log files, helper messages, stops,
 * timeouts and the recording of each job's end. */
#include "job.h"

#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"

#define PIPE_SIZE (1 << 20)
#define READS_PER_EVENT 16	/* 1 MiB per wake-up, then let others run */
#define DRAIN_AFTER_EXIT_MS 5000

/* --- log files ------------------------------------------------------- */

struct logf *logf_new(int fd, uint64_t size, bool done, const char *id)
{
	struct logf *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->refs = 1;
	l->fd = fd;
	l->size = size;
	l->done = done;
	snprintf(l->job_id, sizeof l->job_id, "%s", id);
	return l;
}

void logf_put(struct logf *l)
{
	if (!l || --l->refs > 0)
		return;
	if (l->fd >= 0)
		close(l->fd);
	obuf_put(l->final);
	free(l);
}

/* --- the table of active jobs ---------------------------------------- */

static unsigned bucket(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % JOB_BUCKETS;
}

struct job *job_find(struct mgr *m, const char *id)
{
	for (struct job *j = m->jobs[bucket(id)]; j; j = j->hnext)
		if (!strcmp(j->id, id))
			return j;
	return NULL;
}

static void job_link(struct mgr *m, struct job *j)
{
	unsigned b = bucket(j->id);

	j->hnext = m->jobs[b];
	m->jobs[b] = j;
	j->next = m->active;
	if (m->active)
		m->active->prev = j;
	m->active = j;
}

static void job_unlink(struct mgr *m, struct job *j)
{
	for (struct job **p = &m->jobs[bucket(j->id)]; *p; p = &(*p)->hnext)
		if (*p == j) {
			*p = j->hnext;
			break;
		}
	if (j->prev)
		j->prev->next = j->next;
	else
		m->active = j->next;
	if (j->next)
		j->next->prev = j->prev;
}

static void pipe_close(struct mgr *m, struct pipe_src *p)
{
	if (p->fd < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
}

/* Freed after the current epoll batch, which may still name its pipes. */
static void job_free_later(struct mgr *m, struct job *j)
{
	pipe_close(m, &j->out);
	pipe_close(m, &j->err);
	job_unlink(m, j);
	logf_put(j->log);
	j->log = NULL;
	j->dead = true;
	j->next_dead = m->dead_jobs;
	m->dead_jobs = j;
}

void jobs_reap(struct mgr *m)
{
	while (m->dead_jobs) {
		struct job *j = m->dead_jobs;
		m->dead_jobs = j->next_dead;
		free(j);
	}
}

/* --- replies to the RUN client --------------------------------------- */

static void waiter_done(struct mgr *m, struct job *j)
{
	struct client *c = j->waiter;

	if (!c)
		return;
	j->waiter = NULL;
	c->run_job = NULL;
	c->state = SS_IDLE;
	client_kick(m, c);
}

static void waiter_error(struct mgr *m, struct job *j, int num,
			 const char *msg)
{
	if (j->waiter)
		reply_error(j->waiter, num, "%s", msg);
	waiter_done(m, j);
}

void job_client_gone(struct mgr *m, struct client *c)
{
	if (c->run_job)
		c->run_job->waiter = NULL;
	c->run_job = NULL;
}

/* --- output ---------------------------------------------------------- */

static void log_record(struct mgr *m, struct job *j, uint32_t stream,
		       const void *data, size_t n)
{
	struct logf *l = j->log;
	struct wire_out o;
	struct cerr e;
	ssize_t w;

	wire_out_init(&o, &proto_client, C_LOG_DATA);
	wire_put_u32(&o, F_STREAM, stream);
	wire_put_u64(&o, F_TIME_MS, (uint64_t)now_ms());
	wire_put_bytes(&o, F_DATA, data, n);
	if (wire_out_finish(&o, &e) < 0) {
		logmsg("job %s: log record: %s", j->id, e.msg);
		goto out;
	}
	/* One pwrite per record: followers only ever see whole records,
	 * because l->size moves after the write. */
	w = pwrite(l->fd, o.buf, o.len, (off_t)l->size);
	if (w != (ssize_t)o.len) {
		if (w >= 0 || errno != ENOSPC)
			logmsg("job %s: log write failed: %s", j->id,
			       w < 0 ? strerror(errno) : "short write");
		if (ftruncate(l->fd, (off_t)l->size) < 0)
			logmsg("job %s: log truncate: %m", j->id);
		if (stream != STREAM_META)
			j->dropped += n, j->stored -= n;
		goto out;
	}
	l->size += o.len;
	logf_wake(m, l);
out:
	wire_out_free(&o);
}

static void job_output(struct mgr *m, struct job *j, uint32_t stream,
		       const uint8_t *data, size_t n)
{
	uint64_t cap = m->conf.log_max_bytes, keep;
	char note[128];

	keep = j->stored >= cap ? 0 : cap - j->stored;
	if (keep > n)
		keep = n;
	if (keep) {
		j->stored += keep;
		log_record(m, j, stream, data, keep);
	}
	if (keep == n)
		return;
	j->dropped += n - keep;
	if (j->truncated)
		return;
	j->truncated = true;
	snprintf(note, sizeof note,
		 "corral: output truncated after %llu bytes (log_max_bytes); the rest is dropped",
		 (unsigned long long)cap);
	log_record(m, j, STREAM_META, note, strlen(note));
}

static void job_maybe_end(struct mgr *m, struct job *j);

void job_pipe_event(struct mgr *m, struct ev *ev, uint32_t events)
{
	static uint8_t buf[LOG_CHUNK_MAX];
	struct pipe_src *p = (struct pipe_src *)ev;
	struct job *j = p->job;

	if (j->dead || p->fd < 0)
		return;
	for (int i = 0; i < READS_PER_EVENT; i++) {
		ssize_t n = read(p->fd, buf, sizeof buf);
		if (n > 0) {
			job_output(m, j, p->stream, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			logmsg("job %s: read output: %m", j->id);
		pipe_close(m, p);
		job_maybe_end(m, j);
		return;
	}
}

/* --- launching ------------------------------------------------------- */

static int open_log(struct mgr *m, const char *id, struct cerr *e)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/logs/%s.log", m->conf.state_dir, id);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0640);
	if (fd < 0)
		return cerr_sys(e, "create log %s", path);
	return fd;
}

static int add_pipe(struct mgr *m, struct job *j, struct pipe_src *p, int fd,
		    uint32_t stream, struct cerr *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->ev };

	p->ev.type = EV_PIPE;
	p->job = j;
	p->fd = fd;
	p->stream = stream;
	/* A big pipe lets a chatty job run ahead of us; best effort. */
	fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return cerr_sys(e, "job output pipe");
	return 0;
}

static bool env_has(const struct wire_msg *run, const char *key)
{
	size_t n = strlen(key);

	for (uint32_t i = 0; i < run->nvals; i++)
		if (run->vals[i].id == F_ENV &&
		    !strncmp((const char *)run->vals[i].p, key, n) &&
		    run->vals[i].p[n] == '=')
			return true;
	return false;
}

/* What a login gives, as systemd does for User=: USER, LOGNAME, HOME and
 * SHELL from the user's passwd entry, unless the client set them. */
static void put_identity_env(struct wire_out *o, const struct wire_msg *run,
			     uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096], var[ENV_LEN_MAX];

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return;
	const char *vals[][2] = { { "USER", pw.pw_name }, { "LOGNAME", pw.pw_name },
				  { "HOME", pw.pw_dir }, { "SHELL", pw.pw_shell } };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		if (!vals[i][1] || !vals[i][1][0] || env_has(run, vals[i][0]))
			continue;
		if (snprintf(var, sizeof var, "%s=%s", vals[i][0], vals[i][1]) < (int)sizeof var)
			wire_put_str(o, F_ENV, var);
	}
}

/* START = job_id, uid and every limit/isolation field of the RUN. */
static int build_start(struct wire_out *o, const char *id, uint32_t uid,
		       const struct wire_msg *run, const int wr[2],
		       struct cerr *e)
{
	wire_out_init(o, &proto_helper, H_START);
	wire_put_str(o, F_JOB_ID, id);
	wire_put_u32(o, F_UID, uid);
	for (uint32_t i = 0; i < run->nvals; i++) {
		const struct wire_val *v = &run->vals[i];
		if (v->id == F_NAME || v->id == F_TIMEOUT_MS)
			continue;
		if (v->type == WT_U32)
			wire_put_u32(o, v->id, (uint32_t)v->u);
		else if (v->type == WT_U64)
			wire_put_u64(o, v->id, v->u);
		else if (v->type == WT_STR)
			wire_put_str(o, v->id, (const char *)v->p);
		else
			wire_put_bytes(o, v->id, v->p, v->len);
	}
	put_identity_env(o, run, uid);
	wire_put_fd(o, wr[0]);
	wire_put_fd(o, wr[1]);
	return wire_out_finish(o, e);
}

static int send_start(struct mgr *m, struct job *j, uint32_t uid,
		      const struct wire_msg *run, struct cerr *e)
{
	_cleanup_close_ int o0 = -1, o1 = -1, e0 = -1, e1 = -1;
	int po[2], pe[2], wr[2], r;
	struct wire_out o;

	j->uid = uid;
	if (pipe2(po, O_CLOEXEC) < 0)
		return cerr_sys(e, "stdout pipe");
	o0 = po[0], o1 = po[1];
	if (pipe2(pe, O_CLOEXEC) < 0)
		return cerr_sys(e, "stderr pipe");
	e0 = pe[0], e1 = pe[1];
	wr[0] = o1, wr[1] = e1;
	r = build_start(&o, j->id, uid, run, wr, e);
	if (r == 0)
		r = helper_send(m, &o, e);
	wire_out_free(&o);
	if (r < 0)
		return -1;
	/* Our copies of the write ends close here, so EOF means the job
	 * (and the helper) let go of them. */
	if (add_pipe(m, j, &j->out, take_fd(&o0), STREAM_STDOUT, e) < 0 ||
	    add_pipe(m, j, &j->err, take_fd(&e0), STREAM_STDERR, e) < 0)
		return -1;
	return 0;
}

static int job_launch(struct mgr *m, struct client *c, const char *id,
		      const struct wire_msg *run, struct cerr *e)
{
	struct job *j = calloc(1, sizeof *j);
	int fd;

	if (!j)
		return cerr_sys(e, "job");
	snprintf(j->id, sizeof j->id, "%s", id);
	j->out.fd = j->err.fd = -1;
	j->timeout_ms = wire_u64(run, F_TIMEOUT_MS, 0);
	fd = open_log(m, id, e);
	if (fd < 0 || !(j->log = logf_new(fd, 0, false, id))) {
		if (fd >= 0) {
			close(fd);
			cerr_sys(e, "log");
		}
		free(j);
		return -1;
	}
	job_link(m, j);
	if (send_start(m, j, c->who.uid, run, e) < 0) {
		job_free_later(m, j);
		return -1;
	}
	j->waiter = c;
	c->run_job = j;
	return 0;
}

/* --- stopping -------------------------------------------------------- */

static int send_signal(struct mgr *m, struct job *j, int sig, struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_helper, sig == SIGKILL ? H_KILL : H_SIGNAL);
	wire_put_str(&o, F_JOB_ID, j->id);
	if (sig != SIGKILL)
		wire_put_u32(&o, F_SIGNAL, (uint32_t)sig);
	r = wire_out_finish(&o, e);
	if (r == 0)
		r = helper_send(m, &o, e);
	wire_out_free(&o);
	return r;
}

static void arm_kill(struct mgr *m, struct job *j, uint64_t grace_ms)
{
	int64_t at = mono_ms() + (int64_t)grace_ms;

	if (!j->kill_at || at < j->kill_at)
		j->kill_at = at ? at : 1;
}

/* Stop (SIGTERM, then KILL after grace) or kill now, for a reason. */
static int job_signal(struct mgr *m, struct job *j, bool kill,
		      uint64_t grace_ms, enum end_reason why, struct cerr *e)
{
	/* The first reason wins, but an explicit kill names the end. */
	if (j->reason == END_NONE ||
	    (why == END_KILLED && j->reason == END_STOPPED))
		j->reason = why;
	if (!j->started) {
		/* The helper knows no pid yet: act on STARTED. */
		if (kill || j->pending != SIGKILL)
			j->pending = kill ? SIGKILL : SIGTERM;
		if (!kill)
			arm_kill(m, j, grace_ms);
		return 0;
	}
	if (kill)
		return send_signal(m, j, SIGKILL, e);
	arm_kill(m, j, grace_ms);
	return send_signal(m, j, SIGTERM, e);
}

static int job_stop(struct mgr *m, const char *id, bool kill,
		    uint64_t grace_ms, struct cerr *e)
{
	struct job *j = job_find(m, id);
	char state[STATE_LEN_MAX + 1] = "unknown";

	if (!j || j->exited || j->lost || j->failed) {
		if (store_state(m->store, id, state, e) < 0)
			return -1;
		return cerr_set(e, ESRCH, "job %s is not running (state %s)",
				id, state);
	}
	return job_signal(m, j, kill, grace_ms,
			  kill ? END_KILLED : END_STOPPED, e);
}

/* --- the end --------------------------------------------------------- */

static const char *end_state(const struct job *j)
{
	if (j->oom_kills > 0)
		return "oom";
	switch (j->reason) {
	case END_TIMED_OUT:
		return "timed_out";
	case END_STOPPED:
		return "stopped";
	case END_KILLED:
		return "killed";
	default:
		return "exited";
	}
}

static void record_end(struct mgr *m, struct job *j)
{
	struct job_end je = {
		.state = end_state(j), .ended_ms = now_ms(),
		.has_status = true, .wstatus = j->wstatus,
		.oom_kills = j->oom_kills, .cpu_usec = j->cpu_usec,
		.memory_peak = j->memory_peak,
		.log_bytes = j->stored, .log_dropped = j->dropped,
	};
	struct cerr e;
	int r;

	if (j->failed || j->lost)
		r = store_set_log(m->store, j->id, j->stored, j->dropped, &e);
	else
		r = store_set_ended(m->store, j->id, &je, &e);
	if (r < 0)
		logmsg("job %s: end not recorded: %s", j->id, e.msg);
}

/* The final JOB record, built once for every follower. */
static void publish_final(struct mgr *m, struct job *j)
{
	struct logf *l = j->log;
	struct wire_out o;
	struct cerr e;

	if (store_job_msg(m->store, j->id, &o, &e) == 0)
		l->final = obuf_from(&o);
	else
		logmsg("job %s: final record: %s", j->id, e.msg);
	wire_out_free(&o);
	l->done = true;
	logf_wake(m, l);
}

/* The end is recorded once EXITED (or START_FAILED, or loss) is known and
 * both pipes are at EOF, so followers get all output before the JOB. */
static void job_maybe_end(struct mgr *m, struct job *j)
{
	if (j->dead || !j->exited || j->out.fd >= 0 || j->err.fd >= 0)
		return;
	record_end(m, j);
	publish_final(m, j);
	waiter_error(m, j, EIO, "job ended before it was reported started");
	job_free_later(m, j);
}

static void job_lose(struct mgr *m, struct job *j, const char *why)
{
	struct cerr e;
	char msg[128];

	if (j->dead || j->lost || j->exited)
		return;
	j->lost = j->exited = true;
	j->timeout_at = j->kill_at = 0;
	if (store_set_lost(m->store, j->id, why, now_ms(), &e) < 0)
		logmsg("job %s: lost state not recorded: %s", j->id, e.msg);
	snprintf(msg, sizeof msg, "job %s lost: %s", j->id, why);
	waiter_error(m, j, EIO, msg);
	/* Whatever still holds the pipes dies with the helper's jobs. */
	j->drain_at = mono_ms() + DRAIN_AFTER_EXIT_MS;
	job_maybe_end(m, j);
}

void jobs_lose_all(struct mgr *m, const char *why)
{
	struct job *j = m->active, *next;

	for (; j; j = next) {
		next = j->next;
		job_lose(m, j, why);
	}
}

/* --- helper messages ------------------------------------------------- */

static void on_started(struct mgr *m, struct job *j, uint32_t pid)
{
	struct wire_out o;
	struct cerr e;

	if (j->started || j->exited)
		return;
	if (store_set_running(m->store, j->id, pid, now_ms(), &e) < 0) {
		/* Never acknowledge what is not committed. */
		logmsg("job %s: %s; killing it", j->id, e.msg);
		j->started = true;
		job_signal(m, j, true, 0, END_KILLED, &e);
		waiter_error(m, j, EIO, "job store failed; the job was killed");
		return;
	}
	j->started = true;
	if (j->timeout_ms)
		j->timeout_at = mono_ms() + (int64_t)j->timeout_ms;
	if (j->pending && send_signal(m, j, j->pending, &e) < 0)
		logmsg("job %s: deferred stop: %s", j->id, e.msg);
	if (j->waiter) {
		wire_out_init(&o, &proto_client, C_STARTED);
		wire_put_str(&o, F_JOB_ID, j->id);
		if (outq_push(&j->waiter->q, &o, &e) < 0)
			j->waiter->closing = true;
		wire_out_free(&o);
	}
	waiter_done(m, j);
}

static void on_failed(struct mgr *m, struct job *j, const char *stage,
		      int num, const char *message)
{
	char msg[1024];
	struct cerr e;

	if (j->started || j->exited)
		return;
	snprintf(msg, sizeof msg, "start failed at stage %s: %s", stage,
		 message);
	if (store_set_failed(m->store, j->id, stage, message, now_ms(), &e) < 0)
		logmsg("job %s: failure not recorded: %s", j->id, e.msg);
	/* The RUN was audited "ok" when it was accepted; its failure to
	 * start is an outcome of its own. */
	struct ident who = { .uid = j->uid, .admin = false };
	audit(m, &who, "start", j->id, "failed", msg, true);
	j->failed = j->exited = true;
	j->kill_at = 0;
	waiter_error(m, j, num ? num : EIO, msg);
	j->drain_at = mono_ms() + DRAIN_AFTER_EXIT_MS;
	job_maybe_end(m, j);
}

static void on_exited(struct mgr *m, struct job *j, const struct wire_msg *msg)
{
	if (j->exited)
		return;
	j->exited = true;
	j->wstatus = wire_u32(msg, F_WSTATUS, 0);
	j->oom_kills = wire_u64(msg, F_OOM_KILLS, 0);
	j->cpu_usec = wire_u64(msg, F_CPU_USEC, 0);
	j->memory_peak = wire_u64(msg, F_MEM_PEAK, 0);
	j->timeout_at = j->kill_at = 0;
	j->drain_at = mono_ms() + DRAIN_AFTER_EXIT_MS;
	if (!j->started) {
		struct cerr e;
		j->started = true;
		if (store_set_running(m->store, j->id, 0, now_ms(), &e) < 0)
			logmsg("job %s: %s", j->id, e.msg);
		waiter_error(m, j, EIO, "job exited before it was reported started");
	}
	job_maybe_end(m, j);
}

static void on_error(struct mgr *m, struct job *j, const struct wire_msg *msg)
{
	const char *text = wire_str(msg, F_MESSAGE);
	int num = (int)wire_u32(msg, F_ERRNO, EIO);

	if (!j) {
		logmsg("helper refused a request: %s", text);
		return;
	}
	if (!j->started && !j->exited)
		return on_failed(m, j, "helper", num, text);
	logmsg("job %s: helper refused a request: %s", j->id, text);
}

void job_helper_msg(struct mgr *m, struct wire_msg *msg)
{
	const char *id = wire_str(msg, F_JOB_ID);
	struct job *j = id ? job_find(m, id) : NULL;

	if (msg->type == H_ERROR)
		return on_error(m, j, msg);
	if (!j) {
		logmsg("helper sent %s for unknown job %s", msg->spec->name,
		       id ? id : "-");
		return;
	}
	switch (msg->type) {
	case H_STARTED:
		return on_started(m, j, wire_u32(msg, F_PID, 0));
	case H_START_FAILED:
		return on_failed(m, j, wire_str(msg, F_STAGE),
				 (int)wire_u32(msg, F_ERRNO, EIO),
				 wire_str(msg, F_MESSAGE));
	case H_EXITED:
		return on_exited(m, j, msg);
	default:
		logmsg("helper sent unexpected %s", msg->spec->name);
	}
}

/* --- deadlines ------------------------------------------------------- */

static void min_at(int64_t *best, int64_t at)
{
	if (at && (!*best || at < *best))
		*best = at;
}

int64_t job_next_deadline(struct mgr *m)
{
	int64_t best = 0;

	for (struct job *j = m->active; j; j = j->next) {
		min_at(&best, j->timeout_at);
		min_at(&best, j->kill_at);
		if (j->exited)
			min_at(&best, j->drain_at);
	}
	return best;
}

static void job_deadlines(struct mgr *m, struct job *j, int64_t now)
{
	struct cerr e;

	if (j->timeout_at && now >= j->timeout_at) {
		j->timeout_at = 0;
		if (job_signal(m, j, false, m->conf.stop_grace_ms,
			       END_TIMED_OUT, &e) < 0)
			logmsg("job %s: timeout stop: %s", j->id, e.msg);
	}
	if (j->kill_at && now >= j->kill_at) {
		j->kill_at = 0;
		if (j->started && send_signal(m, j, SIGKILL, &e) < 0)
			logmsg("job %s: kill after grace: %s", j->id, e.msg);
	}
	if (j->exited && j->drain_at && now >= j->drain_at) {
		/* Something outside the job's cgroup kept its pipes open;
		 * do not wait for it forever. */
		logmsg("job %s: output still open %d ms after exit; closing it",
		       j->id, DRAIN_AFTER_EXIT_MS);
		j->drain_at = 0;
		pipe_close(m, &j->out);
		pipe_close(m, &j->err);
		job_maybe_end(m, j);
	}
}

void job_timers(struct mgr *m)
{
	int64_t now = mono_ms();
	struct job *j = m->active, *next;

	for (; j; j = next) {
		next = j->next;
		job_deadlines(m, j, now);
	}
}

const struct mgr_ops real_ops = {
	.launch = job_launch,
	.stop = job_stop,
	.follow = follow_start,
};
