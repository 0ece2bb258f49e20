/* The run-time side of jobs: the table of active jobs, their output
 * pipes, the helper's events, stops, timeouts and the recording of each
 * job's end.  Log files are logfile.c's, the helper link helper_link.c's. */
#include "job.h"

#include <errno.h>
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
#define END_RETRY_MS 1000
#define QUEUE_RETRY_MS 1000	/* after the helper had no slot, at the latest */
/* How long a STARTED may wait for a sync that an end brings anyway
 * (docs/manager.md, Durability): a short job's start and end then share
 * one. */
#define STARTED_HOLD_MS 2

/* --- the table of active jobs ---------------------------------------- */

unsigned id_bucket(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % JOB_BUCKETS;
}

struct job *job_find(struct mgr *m, const char *id)
{
	for (struct job *j = m->jobs[id_bucket(id)]; j; j = j->hnext)
		if (!strcmp(j->id, id))
			return j;
	return NULL;
}

void job_link(struct mgr *m, struct job *j)
{
	unsigned b = id_bucket(j->id);

	j->hnext = m->jobs[b];
	m->jobs[b] = j;
	j->next = m->active;
	if (m->active)
		m->active->prev = j;
	m->active = j;
}

static void job_unlink(struct mgr *m, struct job *j)
{
	for (struct job **p = &m->jobs[id_bucket(j->id)]; *p; p = &(*p)->hnext)
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

/* The name a job's output fd is parked under in the fd store. */
static enum fdname_kind pipe_kind(const struct job *j, const struct pipe_src *p)
{
	if (p->stream == STREAM_STDERR)
		return FDN_ERR;
	return j->in.tty ? FDN_TTY : FDN_OUT;
}

/* With unpark, the fd store's copy goes too (a -t job's terminal then
 * hangs up).  Without, it stays until the job is freed (job_free_later):
 * a crash between a pipe's EOF and the job's durable end still finds
 * the job's output, at its end, and so the job, whose end the next
 * corrald then learns (docs/restart.md). */
static void pipe_close_as(struct mgr *m, struct pipe_src *p, bool unpark)
{
	if (p->fd < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
	if (unpark)
		fdstore_unpark(m, pipe_kind(p->job, p), p->job->id);
}

static void pipe_close(struct mgr *m, struct pipe_src *p)
{
	pipe_close_as(m, p, true);
}

/* Freed after the current epoll batch, which may still name its pipes. */
static void job_free_later(struct mgr *m, struct job *j)
{
	pipe_close_as(m, &j->out, false);
	pipe_close_as(m, &j->err, false);
	/* Whatever is still parked for it (also what a reload's
	 * predecessor left there at an EOF). */
	fdstore_unpark(m, j->in.tty ? FDN_TTY : FDN_OUT, j->id);
	if (!j->in.tty)
		fdstore_unpark(m, FDN_ERR, j->id);
	input_close(m, j);
	job_unlink(m, j);
	logf_put(j->log);
	j->log = NULL;
	free(j->cwd);
	free(j->argv0);
	free(j->path);
	j->cwd = j->argv0 = j->path = NULL;
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
			 unsigned stage, const char *msg)
{
	if (j->waiter)
		reply_error(j->waiter, num, stage, "%s", msg);
	waiter_done(m, j);
}

static void job_hangup(struct mgr *m, struct client *c);
static void job_maybe_end(struct mgr *m, struct job *j);

void job_client_gone(struct mgr *m, struct client *c)
{
	struct job *in = c->in_job;

	queue_client_gone(m, c);
	input_client_gone(m, c);
	if (c->run_job)
		c->run_job->waiter = NULL;
	c->run_job = NULL;
	if (c->hup_id[0] && !m->stop_at)
		job_hangup(m, c);
	c->hup_id[0] = '\0';
	if (in)
		job_tty_hangup(m, in);
}

/* A terminal whose user is gone hangs up: closing the master is what
 * sends the job SIGHUP, as a closed ssh connection or terminal window
 * does (docs/tty.md). */
void job_tty_hangup(struct mgr *m, struct job *j)
{
	if (j->in.tty && j->out.fd >= 0) {
		pipe_close(m, &j->out);
		job_maybe_end(m, j);
	}
}

void job_pipe_event(struct mgr *m, struct ev *ev, uint32_t events)
{
	static uint8_t buf[LOG_CHUNK_MAX];
	struct pipe_src *p = (struct pipe_src *)ev;
	struct job *j = p->job;

	if (j->dead || p->fd < 0)
		return;
	bool is_pipe = pipe_kind(j, p) != FDN_TTY;

	for (int i = 0; i < READS_PER_EVENT; i++) {
		/* Parked: consumed only once logged (fdstore.c). */
		ssize_t n = fdstore_peek(m, p->fd, is_pipe, buf, sizeof buf);
		if (n > 0) {
			logf_output(m, j->log, p->stream, buf, (size_t)n);
			fdstore_drop(m, p->fd, is_pipe, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* A pty master reads EIO once every slave fd is closed: its
		 * EOF. */
		if (n < 0 && !(errno == EIO && j->in.tty))
			logmsg("job %s: read output: %m", j->id);
		pipe_close_as(m, p, false);
		job_maybe_end(m, j);
		return;
	}
}

/* --- launching ------------------------------------------------------- */

int add_pipe(struct mgr *m, struct job *j, struct pipe_src *p, int fd,
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

/* -t: no pipes; the pty's master comes back with STARTED.  Its size is
 * the one the RUN gave (kept with its client: a queued job's RUN comes
 * back from the store without it). */
static int send_start_tty(struct mgr *m, struct job *j, struct client *waiter,
			  const struct wire_msg *run, const struct job_env *env,
			  struct cerr *e)
{
	if (input_attach(m, j, waiter, -1, true, e) < 0)
		return -1;
	return hlink_start_tty(m, j->id, j->uid, run, env,
			       waiter ? waiter->rows : 0, waiter ? waiter->cols : 0, e);
}

static int send_start(struct mgr *m, struct job *j, struct client *waiter,
		      const struct wire_msg *run, const struct job_env *env,
		      struct cerr *e)
{
	_cleanup_close_ int o0 = -1, o1 = -1, e0 = -1, e1 = -1, i0 = -1, i1 = -1;
	int po[2], pe[2], pi[2], wr[3];
	bool merge = wire_has(run, F_MERGE);
	struct runopts opt;
	unsigned nfds = 2;

	runopts_get(run, &opt);
	if (runopt_has(&opt, OPT_TTY))
		return send_start_tty(m, j, waiter, run, env, e);
	if (job_wants_input(&opt)) {
		if (pipe2(pi, O_CLOEXEC) < 0)
			return cerr_sys(e, "stdin pipe");
		i0 = pi[0], i1 = pi[1];
		wr[nfds++] = i0;
	}
	if (pipe2(po, O_CLOEXEC) < 0)
		return cerr_sys(e, "stdout pipe");
	o0 = po[0], o1 = po[1];
	/* --merge: one pipe as both, so the order is the job's own (2>&1);
	 * all of it is stdout.  Else the order between the two is the order
	 * corrald reads them in. */
	if (!merge && pipe2(pe, O_CLOEXEC) < 0)
		return cerr_sys(e, "stderr pipe");
	if (!merge)
		e0 = pe[0], e1 = pe[1];
	wr[0] = o1, wr[1] = merge ? o1 : e1;
	/* Parked before the job exists, so no output of it can be lost
	 * with corrald (docs/restart.md). */
	fdstore_park(m, o0, FDN_OUT, j->id);
	if (!merge)
		fdstore_park(m, e0, FDN_ERR, j->id);
	if (hlink_start(m, j->id, j->uid, run, env, wr, nfds, e) < 0) {
		fdstore_unpark(m, FDN_OUT, j->id);
		if (!merge)
			fdstore_unpark(m, FDN_ERR, j->id);
		return -1;
	}
	if (i1 >= 0 && input_attach(m, j, waiter, take_fd(&i1), false, e) < 0)
		return -1;
	/* Our copies of the write ends close here, so EOF means the job
	 * (and the helper) let go of them. */
	if (add_pipe(m, j, &j->out, take_fd(&o0), STREAM_STDOUT, e) < 0 ||
	    (!merge && add_pipe(m, j, &j->err, take_fd(&e0), STREAM_STDERR, e) < 0))
		return -1;
	return 0;
}

/* The PATH of the composed environment (env.c always sets one). */
static char *env_path(const struct job_env *env)
{
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], "PATH=", 5))
			return strdup(env->v[i] + 5);
	return NULL;
}

int job_start(struct mgr *m, struct client *waiter, uint32_t uid,
	      const char *id, const struct wire_msg *run,
	      const struct job_env *env, struct logf *reuse, uint64_t seq,
	      struct cerr *e)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		return cerr_sys(e, "job");
	snprintf(j->id, sizeof j->id, "%s", id);
	j->out.fd = j->err.fd = j->in.fd = -1;
	j->uid = uid;
	j->timeout_ms = wire_u64(run, F_TIMEOUT_MS, 0);
	j->priority = (uint32_t)wire_u64(run, F_PRIORITY, 0);
	j->seq = seq;
	/* Only for a failed start's message; NULL just makes it vaguer. */
	j->cwd = strdup(wire_str(run, F_CWD));
	j->argv0 = strdup(wire_str(run, F_ARGV));
	j->path = env_path(env);
	if (!(j->log = logf_create(m, id, reuse, e))) {
		free(j->cwd);
		free(j->argv0);
		free(j->path);
		free(j);
		return -1;
	}
	job_link(m, j);
	if (send_start(m, j, waiter, run, env, e) < 0) {
		if (reuse)	/* the caller keeps its reference */
			reuse->refs++;
		job_free_later(m, j);
		return -1;
	}
	j->waiter = waiter;
	if (waiter) {
		waiter->run_job = j;
		waiter->run_q = NULL;
	}
	return 0;
}

static int job_launch(struct mgr *m, struct client *c, const char *id,
		      const struct wire_msg *run, const struct job_env *env,
		      struct cerr *e)
{
	return job_start(m, c, c->who.uid, id, run, env, NULL, ++m->q_seq, e);
}

/* --- stopping -------------------------------------------------------- */

/* To every process of the job (SIGKILL: cgroup.kill). */
static int send_signal(struct mgr *m, struct job *j, int sig, struct cerr *e)
{
	return hlink_signal(m, j->id, sig, false, e);
}

static void arm_kill(struct mgr *m, struct job *j, uint64_t grace_ms)
{
	int64_t at = mono_ms() + (int64_t)grace_ms;

	if (!j->kill_at || at < j->kill_at)
		j->kill_at = at ? at : 1;
}

/* A stop's first signal: TERM, after a HUP if the job was hung up. */
static int send_stop(struct mgr *m, struct job *j, struct cerr *e)
{
	if (j->hangup && send_signal(m, j, SIGHUP, e) < 0)
		return -1;
	return send_signal(m, j, SIGTERM, e);
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
	return send_stop(m, j, e);
}

int job_restop(struct mgr *m, struct job *j, const char *action,
	       int64_t asked_ms, const char *detail, struct cerr *e)
{
	unsigned long long grace = m->conf.stop_grace_ms;
	int64_t left;

	if (!strcmp(action, "kill"))
		return job_signal(m, j, true, 0, END_KILLED, e);
	/* The grace the request gave (its own bound), else the default. */
	if (sscanf(detail, "grace_ms=%llu", &grace) != 1 || grace > GRACE_MS_MAX)
		grace = m->conf.stop_grace_ms;
	left = asked_ms + (int64_t)grace - now_ms();
	if (!strcmp(action, "hangup"))
		j->hangup = true;
	return job_signal(m, j, false, left > 0 ? (uint64_t)left : 0,
			  END_STOPPED, e);
}

static int not_running(struct mgr *m, const char *id, struct cerr *e)
{
	char state[STATE_LEN_MAX + 1] = "unknown";

	if (store_state(m->store, id, state, e) < 0)
		return -1;
	return cerr_set(e, ESRCH, "job %s is not running (state %s)", id, state);
}

static int job_stop(struct mgr *m, const char *id, bool kill,
		    uint64_t grace_ms, struct cerr *e)
{
	struct job *j = job_find(m, id);

	/* A job that waits in the queue never runs: it is cancelled. */
	if (!j && queue_find(m, id))
		return queue_cancel(m, id, kill ? "killed while queued"
					    : "stopped while queued", e);
	if (!j || j->exited || j->lost || j->failed)
		return not_running(m, id, e);
	return job_signal(m, j, kill, grace_ms,
			  kill ? END_KILLED : END_STOPPED, e);
}

/* The attached client of a job went away (its terminal closed, its
 * output was closed and it died of SIGPIPE, it was killed): as a
 * terminal's hang-up, the job gets SIGHUP, then is stopped as by STOP
 * (it ends `stopped`); queued, it is cancelled.  Audited as the user's. */
static void job_hangup(struct mgr *m, struct client *c)
{
	const char *id = c->hup_id;
	struct job *j = job_find(m, id);
	struct cerr e;
	int rc = 0;

	if (!j && queue_find(m, id)) {
		rc = queue_cancel(m, id, "its attached client went away", &e);
	} else if (j && !j->exited && !j->lost && !j->failed) {
		j->hangup = true;
		rc = job_signal(m, j, false, m->conf.stop_grace_ms, END_STOPPED, &e);
	} else {
		return;
	}
	if (rc < 0)
		logmsg("job %s: hang-up: %s", id, e.msg);
	audit(m, &c->who, "hangup", id, rc < 0 ? "error" : "ok",
	      rc < 0 ? e.msg : "its attached client went away", false);
}

/* KILL with a signal: to every process of a running job, or to its
 * foreground group (an attached client's Ctrl-C).  It sets no end
 * reason: what the job does with it is its own. */
static int job_user_signal(struct mgr *m, const char *id, int sig,
			   bool foreground, struct cerr *e)
{
	struct job *j = job_find(m, id);

	if (!j && queue_find(m, id))
		return cerr_set(e, ESRCH, "job %s is queued: it has no processes to signal yet", id);
	if (j && !j->started && !j->exited)
		return cerr_set(e, EAGAIN, "job %s is starting; try again", id);
	if (!j || j->exited || j->lost || j->failed)
		return not_running(m, id, e);
	return hlink_signal(m, id, sig, foreground, e);
}

/* --- the end --------------------------------------------------------- */

static enum job_state end_state(const struct job *j)
{
	if (j->oom_kills > 0 && j->oom_kills != STAT_NONE)
		return JS_OOM;
	switch (j->reason) {
	case END_TIMED_OUT:
		return JS_TIMED_OUT;
	case END_STOPPED:
		return JS_STOPPED;
	case END_KILLED:
		return JS_KILLED;
	default:
		return JS_EXITED;
	}
}

/* The job's end in one durable write: what the helper said, or its
 * failure to start, or its loss, with the output figures. */
static int record_end(struct mgr *m, struct job *j, struct cerr *e)
{
	struct job_end je = {
		.state = state_name(end_state(j)), .ended_ms = j->ended_ms,
		.has_status = true, .wstatus = j->wstatus,
		.oom_kills = j->oom_kills, .cpu_usec = j->cpu_usec,
		.memory_peak = j->memory_peak,
		.log_bytes = j->log->stored, .log_dropped = j->log->dropped,
		.log_size = j->log->size,
	};

	if (j->lost && store_set_lost(m->store, j->id, j->why, j->ended_ms, e) < 0)
		return -1;
	if (j->failed && store_set_failed(m->store, j->id, j->stage, j->fail_errno,
					  j->why, j->ended_ms, e) < 0)
		return -1;
	if (j->failed || j->lost)
		return store_set_log(m->store, j->id, j->log->stored,
				     j->log->dropped, j->log->size, e);
	return store_set_ended(m->store, j->id, &je, e);
}

/* The final JOB record, built once for every follower. */
void job_publish_final(struct mgr *m, struct logf *l, const char *id)
{
	struct wire_out o;
	struct cerr e;

	if (store_job_msg(m->store, id, NULL, &o, &e) == 0)
		l->final = obuf_from(&o);
	else
		logmsg("job %s: final record: %s", id, e.msg);
	wire_out_free(&o);
	l->done = true;
	logf_wake(m, l);
}

/* --- group commit ----------------------------------------------------- */

/* j has a group commit whose news waits for the loop turn's sync. */
static void settle_add(struct mgr *m, struct job *j)
{
	if (j->settle_listed)
		return;
	j->settle_listed = true;
	j->settle_next = m->settle;
	m->settle = j;
}

/* The end is recorded once EXITED (or START_FAILED, or loss) is known and
 * both pipes are at EOF, so followers get all output before the JOB. */
static void job_maybe_end(struct mgr *m, struct job *j)
{
	struct cerr e;

	if (j->dead || j->end_written || !j->exited || j->out.fd >= 0 ||
	    j->err.fd >= 0)
		return;
	if (!j->ended_ms)
		j->ended_ms = now_ms();
	/* Nothing about a job is lost while its end cannot be written (a
	 * full disk): it stays here, its clients wait, and the write is
	 * tried again until it lands. */
	if (record_end(m, j, &e) < 0) {
		if (!j->end_retry_at)
			logmsg("job %s: end not recorded yet (%s); retrying every %d ms",
			       j->id, e.msg, END_RETRY_MS);
		j->end_retry_at = mono_ms() + END_RETRY_MS;
		return;
	}
	if (j->end_retry_at)
		logmsg("job %s: end recorded", j->id);
	j->end_retry_at = 0;
	/* Told after the loop turn's sync (jobs_settle). */
	j->end_written = true;
	settle_add(m, j);
	m->settle_now = true;
}

/* The end is durable: followers, the waiter and the queue learn of it. */
static void end_settled(struct mgr *m, struct job *j)
{
	job_publish_final(m, j->log, j->id);
	waiter_error(m, j, EIO, STAGE_NONE, "job ended before it was reported started");
	job_free_later(m, j);
	/* Its slot is free, and jobs may wait for this one. */
	queue_job_ended(m, j->id);
}

void job_lose(struct mgr *m, struct job *j, const char *why)
{
	char msg[128];

	if (j->dead || j->lost || j->exited)
		return;
	j->lost = j->exited = true;
	j->timeout_at = j->kill_at = 0;
	j->ended_ms = now_ms();		/* the last moment it was known alive */
	snprintf(j->why, sizeof j->why, "%s", why);
	snprintf(msg, sizeof msg, "job %s lost: %s", j->id, why);
	waiter_error(m, j, EIO, STAGE_NONE, msg);
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

void jobs_kill_all(struct mgr *m)
{
	struct cerr e;

	for (struct job *j = m->active; j; j = j->next)
		if (!j->exited && job_signal(m, j, true, 0, END_KILLED, &e) < 0)
			logmsg("job %s: kill: %s", j->id, e.msg);
}

/* --- helper messages ------------------------------------------------- */

/* -t: the master is the job's output and, through a dup, its input. */
static int take_tty(struct mgr *m, struct job *j, int *fd, struct cerr *e)
{
	int in;

	if (!j->in.tty)
		return 0;
	if (*fd < 0)
		return cerr_set(e, EPROTO, "the helper sent no terminal");
	in = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
	if (in < 0)
		return cerr_sys(e, "terminal");
	if (add_pipe(m, j, &j->out, take_fd(fd), STREAM_STDOUT, e) < 0) {
		close(in);
		return -1;
	}
	fdstore_park(m, j->out.fd, FDN_TTY, j->id);
	return input_set_fd(m, j, in, e);
}

static void on_started(struct mgr *m, struct job *j, struct helper_event *ev)
{
	struct cerr e;

	if (j->started || j->exited)
		return;
	if (take_tty(m, j, &ev->fd, &e) < 0) {
		logmsg("job %s: %s; killing it", j->id, e.msg);
		j->started = true;
		job_signal(m, j, true, 0, END_KILLED, &e);
		waiter_error(m, j, EIO, STAGE_NONE, "the job's terminal failed; the job was killed");
		return;
	}
	if (store_set_running_net(m->store, j->id, ev->pid, now_ms(),
				  ev->net_address, ev->net_mac, &e) < 0) {
		/* Never acknowledge what is not committed. */
		logmsg("job %s: %s; killing it", j->id, e.msg);
		j->started = true;
		job_signal(m, j, true, 0, END_KILLED, &e);
		waiter_error(m, j, EIO, STAGE_NONE, "job store failed; the job was killed");
		return;
	}
	j->started = true;
	if (j->timeout_ms)
		j->timeout_at = mono_ms() + (int64_t)j->timeout_ms;
	if (j->pending && (j->pending == SIGTERM ? send_stop(m, j, &e)
						 : send_signal(m, j, j->pending, &e)) < 0)
		logmsg("job %s: deferred stop: %s", j->id, e.msg);
	/* STARTED goes out after the next sync (jobs_settle), which an end
	 * brings, or at the latest STARTED_HOLD_MS from now. */
	j->ack_started = true;
	settle_add(m, j);
	if (!m->settle_by)
		m->settle_by = mono_ms() + STARTED_HOLD_MS;
}

/* The running state is durable: the waiter may hear of it. */
static void started_settled(struct mgr *m, struct job *j)
{
	struct wire_out o;
	struct cerr e;

	if (j->waiter) {
		wire_out_init(&o, &proto_client_rep, C_STARTED);
		wire_put_str(&o, F_JOB_ID, j->id);
		if (outq_push(&j->waiter->q, &o, &e) < 0)
			j->waiter->closing = true;
		wire_out_free(&o);
	}
	waiter_done(m, j);
}

/* The helper says what failed in its own terms (an errno's text); the
 * user needs the directory or the command it was about. */
static void failed_why(const struct job *j, unsigned stage, int num,
		       const char *message, char *buf, size_t len)
{
	if (stage == STAGE_JOB_CWD && j->cwd)
		snprintf(buf, len, "cannot enter the working directory %.300s: %s",
			 j->cwd, message);
	else if (stage == STAGE_JOB_EXEC && j->argv0 && num == ENOENT &&
		 !strchr(j->argv0, '/'))
		/* execvp searched the job's PATH, not the caller's: name it. */
		snprintf(buf, len, "%.300s: command not found in PATH=%.600s",
			 j->argv0, j->path ? j->path : "(none)");
	else if (stage == STAGE_JOB_EXEC && j->argv0 && num == ENOENT)
		snprintf(buf, len, "%.300s: no such file", j->argv0);
	else if (stage == STAGE_JOB_EXEC && j->argv0)
		snprintf(buf, len, "cannot run %.300s: %s", j->argv0, message);
	else
		snprintf(buf, len, "%s", message);
}

static void on_failed_final(struct mgr *m, struct job *j, unsigned stage,
			    int num, const char *message)
{
	char msg[MESSAGE_LEN_MAX];

	failed_why(j, stage, num, message, j->why, sizeof j->why);
	snprintf(msg, sizeof msg, "start failed at stage %s: %.900s",
		 stage_name(stage), j->why);
	j->stage = stage;
	j->fail_errno = num;
	j->ended_ms = now_ms();
	/* The RUN was audited "ok" when it was accepted; its failure to
	 * start is an outcome of its own. */
	struct ident who = { .uid = j->uid, .admin = false };
	audit(m, &who, "start", j->id, "failed", msg, true);
	j->failed = j->exited = true;
	j->kill_at = 0;
	waiter_error(m, j, num ? num : EIO, stage, msg);
	j->drain_at = mono_ms() + DRAIN_AFTER_EXIT_MS;
	job_maybe_end(m, j);
}

/* The helper had no slot after all (its max_jobs, the last wall): the
 * job goes back to the queue where it was, rather than failing, and
 * nothing more is sent to the helper until a job ends. */
static void job_requeue(struct mgr *m, struct job *j, const char *message)
{
	struct audit_rec a = { .time_ms = now_ms(), .uid = j->uid,
			       .action = "requeue", .job_id = j->id,
			       .outcome = "ok", .detail = message };
	struct qspec q = { .id = j->id, .uid = j->uid, .priority = j->priority,
			   .seq = j->seq, .log = j->log };
	struct client *c = j->waiter;
	struct job_live live;
	struct cerr e;

	if (store_requeue(m->store, j->id, &a, &e) < 0) {
		logmsg("job %s: back to the queue: %s", j->id, e.msg);
		return on_failed_final(m, j, STAGE_POLICY, EAGAIN, message);
	}
	m->q_retry_at = mono_ms() + QUEUE_RETRY_MS;
	j->waiter = NULL;
	if (c)
		c->run_job = NULL;
	j->log = NULL;		/* the queue's now */
	if (queue_add(m, c, &q, &live, &e) < 0)
		logmsg("job %s: back to the queue: %s", j->id, e.msg);
	job_free_later(m, j);
}

static void on_failed(struct mgr *m, struct job *j, unsigned stage,
		      int num, const char *message)
{
	if (j->started || j->exited)
		return;
	if (stage == STAGE_POLICY && num == EAGAIN)
		return job_requeue(m, j, message);
	on_failed_final(m, j, stage, num, message);
}

static void on_exited(struct mgr *m, struct job *j, const struct helper_event *ev)
{
	if (j->exited)
		return;
	m->q_retry_at = 0;	/* the helper has a slot again */
	j->exited = true;
	j->ended_ms = now_ms();
	j->wstatus = ev->wstatus;
	j->oom_kills = ev->oom_kills;
	j->cpu_usec = ev->cpu_usec;
	j->memory_peak = ev->memory_peak;
	j->timeout_at = j->kill_at = 0;
	j->drain_at = mono_ms() + DRAIN_AFTER_EXIT_MS;
	if (!j->started) {
		struct cerr e;
		j->started = true;
		if (store_set_running(m->store, j->id, 0, now_ms(), &e) < 0)
			logmsg("job %s: %s", j->id, e.msg);
		waiter_error(m, j, EIO, STAGE_NONE, "job exited before it was reported started");
	}
	job_maybe_end(m, j);
}

static void on_error(struct mgr *m, struct job *j, const struct helper_event *ev)
{
	if (!j) {
		logmsg("helper refused a request: %s", ev->message);
		return;
	}
	if (!j->started && !j->exited)
		return on_failed(m, j, STAGE_HELPER, ev->err, ev->message);
	logmsg("job %s: helper refused a request: %s", j->id, ev->message);
}

void job_helper_event(struct mgr *m, struct helper_event *ev)
{
	struct job *j = ev->job_id ? job_find(m, ev->job_id) : NULL;

	if (ev->type == H_ERROR)
		return on_error(m, j, ev);
	if (!j) {
		logmsg("helper sent %s for unknown job %s", ev->name,
		       ev->job_id ? ev->job_id : "-");
		return;
	}
	switch (ev->type) {
	case H_STARTED:
		return on_started(m, j, ev);
	case H_START_FAILED:
		return on_failed(m, j, ev->stage, ev->err, ev->message);
	case H_EXITED:
		return on_exited(m, j, ev);
	default:
		logmsg("helper sent unexpected %s", ev->name);
	}
}

/* One sync for every group commit of the turn, then their replies, in
 * the order each job's news came (STARTED before its end).  A failed
 * sync may have lost any of those commits, and the kernel may have
 * dropped the pages it could not write, so that no later sync can tell:
 * nothing of them is told, and corrald stops (the helper then kills its
 * jobs; on restart the store holds what really reached the disk and
 * marks the unfinished jobs lost).  docs/manager.md, group commit. */
void jobs_settle(struct mgr *m)
{
	struct job *list = NULL, *j;
	struct cerr e;

	if (!m->settle)
		return;
	/* Only STARTEDs, still inside their hold: an end may yet come and
	 * share their sync.  Never while reloading, stopping or exiting
	 * (a restart under the fd store ends the loop at once). */
	if (!m->settle_now && !m->reload_at && !m->stop_at &&
	    m->exit_code < 0 && mono_ms() < m->settle_by)
		return;
	m->settle_now = false;
	m->settle_by = 0;
	if (store_sync(m->store, &e) < 0) {
		logmsg("%s; stopping: the starts and ends of this moment may not be on the disk",
		       e.msg);
		m->exit_code = 1;
		return;
	}
	/* Reverse the list: the news in the order it came. */
	while ((j = m->settle)) {
		m->settle = j->settle_next;
		j->settle_next = list;
		list = j;
	}
	while ((j = list)) {
		list = j->settle_next;
		j->settle_listed = false;
		if (j->dead)
			continue;
		if (j->ack_started) {
			j->ack_started = false;
			started_settled(m, j);
		}
		if (j->end_written) {
			j->end_written = false;
			end_settled(m, j);
		}
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
	/* An end written after the turn's sync (a queued start that failed)
	 * needs a turn of its own: a deadline already past. */
	int64_t best = m->settle_now ? 1 : m->settle_by;

	for (struct job *j = m->active; j; j = j->next) {
		min_at(&best, j->timeout_at);
		min_at(&best, j->kill_at);
		if (j->exited)
			min_at(&best, j->drain_at);
		min_at(&best, j->end_retry_at);
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
	if (j->end_retry_at && now >= j->end_retry_at)
		job_maybe_end(m, j);
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

static bool job_stopping(struct mgr *m, const char *id)
{
	struct job *j = job_find(m, id);

	return j && j->reason != END_NONE;
}

static bool job_live_output(struct mgr *m, const char *id, struct job_live *out)
{
	struct job *j = job_find(m, id);

	memset(out, 0, sizeof *out);
	if (!j || !j->log)
		return queue_live(m, id, out);
	out->output = true;
	out->stored = j->log->stored;
	out->dropped = j->log->dropped;
	return true;
}

const struct mgr_ops real_ops = {
	.launch = job_launch,
	.stop = job_stop,
	.signal = job_user_signal,
	.stopping = job_stopping,
	.live_output = job_live_output,
	.follow = follow_start,
	.rm_log = logf_remove,
	.input = input_message,
	.prune = prune_pass,
	.place = queue_place,
	.enqueue = queue_add,
};
