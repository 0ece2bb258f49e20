/* The queue: jobs over a cap wait here (and in the store, state queued)
 * until a slot is free, in the fair order of sched.c, or until the job
 * they wait for (--after, --after-ok) has ended.  A job holds a slot from
 * its start until its end is recorded (m->active); the caps are
 * corrald.conf's, the global one bounded by the helper's max_jobs, which
 * the helper enforces itself as the last wall.  See docs/queue.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "proto.h"

#define DEFAULT_MAX_JOBS 64	/* the helper's own default */

struct qjob {
	char id[JOB_ID_LEN + 1];
	uint32_t uid;
	uint32_t priority;
	uint64_t seq;
	char after[JOB_ID_LEN + 1];	/* "" none */
	bool after_ok;
	bool blocked;			/* after has not ended */
	uint32_t position;		/* when !m->q_dirty; 0: blocked */
	struct client *waiter;		/* an attached RUN, or NULL */
	struct logf *log;		/* its followers', or NULL */
	struct qjob *next, *prev;	/* arrival order */
	struct qjob *hnext;
};

/* --- caps and counts ------------------------------------------------- */

static uint32_t max_running(const struct mgr *m)
{
	uint64_t cap = m->helper_max_jobs ? m->helper_max_jobs : DEFAULT_MAX_JOBS;

	if (m->conf.max_running && m->conf.max_running < cap)
		cap = m->conf.max_running;
	return (uint32_t)cap;
}

static uint32_t user_max_running(const struct mgr *m)
{
	uint32_t cap = max_running(m);

	return m->conf.user_max_running && m->conf.user_max_running < cap
		? (uint32_t)m->conf.user_max_running : cap;
}

uint32_t queue_running(struct mgr *m, bool one, uint32_t uid)
{
	uint32_t n = 0;

	for (struct job *j = m->active; j; j = j->next)
		if (!one || j->uid == uid)
			n++;
	return n;
}

static uint32_t queued_of(struct mgr *m, uint32_t uid)
{
	uint32_t n = 0;

	for (struct qjob *q = m->q_head; q; q = q->next)
		n += q->uid == uid;
	return n;
}

/* --- the table ------------------------------------------------------- */

struct qjob *queue_find(struct mgr *m, const char *id)
{
	for (struct qjob *q = m->qjobs[id_bucket(id)]; q; q = q->hnext)
		if (!strcmp(q->id, id))
			return q;
	return NULL;
}

static void q_link(struct mgr *m, struct qjob *q)
{
	unsigned b = id_bucket(q->id);
	struct qjob *at = m->q_tail;

	q->hnext = m->qjobs[b];
	m->qjobs[b] = q;
	/* In arrival order: a job back from the helper goes where it was. */
	while (at && at->seq > q->seq)
		at = at->prev;
	q->prev = at;
	q->next = at ? at->next : m->q_head;
	if (q->next)
		q->next->prev = q;
	else
		m->q_tail = q;
	if (at)
		at->next = q;
	else
		m->q_head = q;
	m->nqueued++;
	m->q_dirty = true;
}

static void q_unlink(struct mgr *m, struct qjob *q)
{
	for (struct qjob **p = &m->qjobs[id_bucket(q->id)]; *p; p = &(*p)->hnext)
		if (*p == q) {
			*p = q->hnext;
			break;
		}
	if (q->prev)
		q->prev->next = q->next;
	else
		m->q_head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		m->q_tail = q->prev;
	m->nqueued--;
	m->q_dirty = true;
}

/* Leave the queue: the waiter, if any, is the caller's to answer. */
static void q_free(struct mgr *m, struct qjob *q)
{
	q_unlink(m, q);
	if (q->waiter)
		q->waiter->run_q = NULL;
	logf_put(q->log);
	free(q);
}

/* --- users' turns ---------------------------------------------------- */

static struct sched_user *user_of(struct mgr *m, uint32_t uid)
{
	for (size_t i = 0; i < m->q_nusers; i++)
		if (m->q_users[i].uid == uid)
			return &m->q_users[i];
	if (m->q_nusers == m->q_users_cap) {
		size_t cap = m->q_users_cap ? 2 * m->q_users_cap : 16;
		struct sched_user *u = realloc(m->q_users, cap * sizeof *u);
		if (!u)
			return NULL;
		m->q_users = u;
		m->q_users_cap = cap;
	}
	m->q_users[m->q_nusers] = (struct sched_user){ .uid = uid };
	return &m->q_users[m->q_nusers++];
}

/* The users table as it is now: running counts from the active jobs,
 * last starts kept; users with nothing running or queued are dropped
 * (they start again as newcomers, which only helps them). */
static void users_refresh(struct mgr *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->q_nusers; i++)
		m->q_users[i].running = 0;
	for (struct job *j = m->active; j; j = j->next) {
		struct sched_user *u = user_of(m, j->uid);
		if (u)
			u->running++;
	}
	for (size_t i = 0; i < m->q_nusers; i++) {
		struct sched_user *u = &m->q_users[i];
		bool queued = false;
		for (struct qjob *q = m->q_head; q && !queued && !u->running; q = q->next)
			queued = q->uid == u->uid;
		if (u->running || queued)
			m->q_users[k++] = *u;
	}
	m->q_nusers = k;
}

/* The jobs that may start, for sched_order; *n of them. */
static struct sched_job *eligible(struct mgr *m, struct qjob ***byidx,
				  size_t *n)
{
	struct sched_job *jobs = calloc(m->nqueued ? m->nqueued : 1, sizeof *jobs);
	struct qjob **idx = calloc(m->nqueued ? m->nqueued : 1, sizeof *idx);
	size_t k = 0;

	if (!jobs || !idx) {
		free(jobs);
		free(idx);
		return NULL;
	}
	for (struct qjob *q = m->q_head; q; q = q->next) {
		if (q->blocked)
			continue;
		jobs[k] = (struct sched_job){ q->uid, q->priority, q->seq, (uint32_t)k };
		idx[k++] = q;
	}
	*byidx = idx;
	*n = k;
	return jobs;
}

/* Each queued job's place in the order all would start in if every slot
 * were free now (blocked ones have none). */
static void positions(struct mgr *m)
{
	struct sched_caps all = { UINT32_MAX, UINT32_MAX };
	struct sched_user *users;
	struct sched_job *jobs;
	struct qjob **idx;
	uint32_t *order;
	uint64_t clock;
	size_t n, k;

	if (!m->q_dirty)
		return;
	for (struct qjob *q = m->q_head; q; q = q->next)
		q->position = 0;
	users_refresh(m);
	jobs = eligible(m, &idx, &n);
	order = calloc(n ? n : 1, sizeof *order);
	users = malloc((m->q_nusers ? m->q_nusers : 1) * sizeof *users);
	if (!jobs || !order || !users)
		goto out;
	memcpy(users, m->q_users, m->q_nusers * sizeof *users);
	clock = m->q_clock;
	k = sched_order(&all, 0, users, m->q_nusers, jobs, n, &clock, order, n);
	for (size_t i = 0; i < k; i++)
		idx[order[i]]->position = (uint32_t)i + 1;
	m->q_dirty = false;
out:
	if (jobs)
		free(idx);
	free(jobs);
	free(order);
	free(users);
}

/* Why q waits, for STATUS, QUEUED and the audit. */
static void why(struct mgr *m, const struct qjob *q, char *buf, size_t len)
{
	uint32_t all = queue_running(m, false, 0), cap = max_running(m);
	uint32_t mine = queue_running(m, true, q->uid), ucap = user_max_running(m);

	if (q->blocked)
		snprintf(buf, len, "waiting for job %s to %s", q->after,
			 q->after_ok ? "exit 0" : "end");
	else if (!m->helper_ready)
		snprintf(buf, len, "waiting for the helper to start");
	else if (all >= cap)
		snprintf(buf, len, "waiting for a slot: %u of %u running", all, cap);
	else if (mine >= ucap)
		snprintf(buf, len, "waiting for a slot: %u of %u running for uid %u (user_max_running)",
			 mine, ucap, q->uid);
	else if (m->q_retry_at)
		snprintf(buf, len, "waiting for a slot: the helper has none free (its max_jobs)");
	else
		snprintf(buf, len, "starting");
}

bool queue_live(struct mgr *m, const char *id, struct job_live *out)
{
	struct qjob *q = queue_find(m, id);

	if (!q)
		return false;
	positions(m);
	out->position = q->position;
	why(m, q, out->waiting, sizeof out->waiting);
	return true;
}

struct logf *queue_log(struct mgr *m, const char *id)
{
	struct qjob *q = queue_find(m, id);

	if (!q)
		return NULL;
	if (!q->log)
		q->log = logf_pending(id);
	return q->log;
}

/* --- in -------------------------------------------------------------- */

int queue_place(struct mgr *m, uint32_t uid, bool blocked, bool no_queue,
		struct cerr *e)
{
	uint32_t all, cap = max_running(m), mine, ucap = user_max_running(m);

	/* A slot that came free in this turn of the loop is the queue's
	 * first. */
	if (m->q_kick)
		queue_schedule(m);
	all = queue_running(m, false, 0);
	mine = queue_running(m, true, uid);
	if (!blocked && all < cap && mine < ucap && !m->q_retry_at)
		return 0;
	if (no_queue) {
		if (all >= cap || m->q_retry_at)
			return cerr_set(e, EAGAIN, "too many jobs: %u of %u running (max_running); not queued (--no-queue)",
					all, cap);
		return cerr_set(e, EAGAIN, "too many jobs of uid %u: %u of %u running (user_max_running); not queued (--no-queue)",
				uid, mine, ucap);
	}
	if (queued_of(m, uid) >= m->conf.user_max_queued)
		return cerr_set(e, EAGAIN, "too many queued jobs of uid %u: %u (user_max_queued)",
				uid, queued_of(m, uid));
	return 1;
}

int queue_add(struct mgr *m, struct client *c, const struct qspec *s,
	      struct job_live *out, struct cerr *e)
{
	struct qjob *q = calloc(1, sizeof *q);

	if (!q) {
		logf_put(s->log);
		return cerr_sys(e, "queue");
	}
	snprintf(q->id, sizeof q->id, "%s", s->id);
	q->uid = s->uid;
	q->priority = s->priority;
	q->seq = s->seq ? s->seq : ++m->q_seq;
	if (s->after)
		snprintf(q->after, sizeof q->after, "%s", s->after);
	q->after_ok = s->after_ok;
	q->blocked = s->blocked;
	q->log = s->log;
	q->waiter = c;
	if (c) {
		c->run_q = q;
		c->state = SS_RUN;
	}
	q_link(m, q);
	m->q_kick = true;
	memset(out, 0, sizeof *out);
	queue_live(m, q->id, out);
	return 0;
}

/* --- out ------------------------------------------------------------- */

static void tell_waiter(struct mgr *m, struct qjob *q, int num, unsigned stage,
			const char *msg)
{
	struct client *c = q->waiter;

	if (!c)
		return;
	reply_error(c, num, stage, "%s", msg);
	q->waiter = NULL;
	c->run_q = NULL;
	c->state = SS_IDLE;
	client_kick(m, c);
}

/* queued -> cancelled, durable, with why; the waiter and followers are
 * told, and the jobs waiting for this one go on. */
static int cancel(struct mgr *m, struct qjob *q, const char *reason,
		  struct cerr *e)
{
	char id[JOB_ID_LEN + 1];
	struct audit_rec a = { .time_ms = now_ms(), .uid = q->uid,
			       .action = "cancel", .job_id = q->id,
			       .outcome = "ok", .detail = reason };
	char msg[MESSAGE_LEN_MAX];

	if (store_cancel(m->store, q->id, reason, a.time_ms, &a, e) < 0)
		return -1;
	snprintf(msg, sizeof msg, "job %s was cancelled: %s", q->id, reason);
	tell_waiter(m, q, ECANCELED, STAGE_NONE, msg);
	if (q->log)
		job_publish_final(m, q->log, q->id);
	memcpy(id, q->id, sizeof id);
	q_free(m, q);
	queue_job_ended(m, id);
	return 0;
}

int queue_cancel(struct mgr *m, const char *id, const char *reason,
		 struct cerr *e)
{
	struct qjob *q = queue_find(m, id);

	if (!q)
		return cerr_set(e, ESRCH, "job %s is not queued", id);
	return cancel(m, q, reason, e);
}

/* What the job q waits for has ended (state, exit code or -1): q may
 * start, or is cancelled (--after-ok and not exited 0). */
static void dependency_ended(struct mgr *m, struct qjob *q, const char *state,
			     int exit_code)
{
	char reason[160];
	struct cerr e;

	if (q->after_ok && (strcmp(state, "exited") || exit_code != 0)) {
		if (exit_code >= 0)
			snprintf(reason, sizeof reason, "job %s ended %s with exit code %d, not 0 (--after-ok)",
				 q->after, state, exit_code);
		else
			snprintf(reason, sizeof reason, "job %s ended %s, not with exit code 0 (--after-ok)",
				 q->after, state);
		if (cancel(m, q, reason, &e) < 0)
			logmsg("job %s: cancel: %s", q->id, e.msg);
		return;
	}
	q->blocked = false;
	m->q_dirty = true;
	m->q_kick = true;
}

void queue_job_ended(struct mgr *m, const char *id)
{
	char ended[JOB_ID_LEN + 1], state[STATE_LEN_MAX + 1] = "";
	int exit_code = -1;
	bool known = false;
	struct qjob *q, *next;
	struct cerr e;

	m->q_kick = true;
	m->q_dirty = true;
	snprintf(ended, sizeof ended, "%s", id);
	for (q = m->q_head; q; q = next) {
		next = q->next;
		if (!q->blocked || strcmp(q->after, ended))
			continue;
		if (!known) {
			if (store_end_of(m->store, ended, state, &exit_code, &e) < 0) {
				logmsg("job %s: %s", ended, e.msg);
				snprintf(state, sizeof state, "deleted");
			}
			known = true;
		}
		/* A cancel inside may end others: start over, from the top. */
		dependency_ended(m, q, state, exit_code);
		next = m->q_head;
	}
}

/* A queued job's turn: queued -> starting, then started like any RUN,
 * from what its row says. */
static void start_one(struct mgr *m, struct qjob *q, uint32_t running)
{
	char detail[96];
	struct audit_rec a = { .time_ms = now_ms(), .uid = q->uid,
			       .action = "dequeue", .job_id = q->id,
			       .outcome = "ok", .detail = detail };
	struct job_env env = { 0 };
	struct wire_out o = { 0 };
	struct wire_msg run;
	struct client *c = q->waiter;
	char id[JOB_ID_LEN + 1];
	struct cerr e;
	const struct wire_val *v;
	int decoded = -1;

	snprintf(detail, sizeof detail, "a slot is free: %u of %u running",
		 running, max_running(m));
	if (store_dequeue(m->store, q->id, &a, &e) < 0) {
		logmsg("job %s: leaving the queue: %s", q->id, e.msg);
		if (e.num == ESRCH)	/* not queued in the store: drop it */
			q_free(m, q);
		return;
	}
	if (store_job_msg(m->store, q->id, NULL, &o, &e) == 0)
		decoded = wire_decode(&proto_client_rep, o.buf, o.len, &run, &e);
	for (size_t i = 0; decoded == 0 && (v = wire_nth(&run, F_ENV, i)) && i < ENV_MAX; i++)
		env.v[env.n++] = (const char *)v->p;
	/* The log goes to the job; the waiter becomes the job's. */
	if (decoded == 0 &&
	    job_start(m, c, q->uid, q->id, &run, &env, q->log, q->seq, &e) == 0) {
		q->log = NULL;
		q->waiter = NULL;
		q_free(m, q);
	} else {
		char why_msg[MESSAGE_LEN_MAX];
		struct ident who = { .uid = q->uid };
		struct cerr e2;

		if (store_set_failed(m->store, q->id, STAGE_MANAGER, e.num, e.msg,
				     now_ms(), &e2) < 0)
			logmsg("job %s: %s", q->id, e2.msg);
		snprintf(why_msg, sizeof why_msg, "start failed at stage manager: %s", e.msg);
		audit(m, &who, "start", q->id, "failed", why_msg, true);
		tell_waiter(m, q, e.num, STAGE_MANAGER, why_msg);
		if (q->log)
			job_publish_final(m, q->log, q->id);
		memcpy(id, q->id, sizeof id);
		q_free(m, q);
		queue_job_ended(m, id);
	}
	if (decoded == 0)
		wire_msg_free(&run);
	wire_out_free(&o);
}

void queue_schedule(struct mgr *m)
{
	struct sched_caps caps = { max_running(m), user_max_running(m) };
	uint32_t running, *order;
	struct sched_job *jobs;
	struct qjob **idx;
	size_t n, k;

	m->q_kick = false;
	if (!m->q_head || !m->helper_ready || m->stop_at || m->q_retry_at)
		return;
	running = queue_running(m, false, 0);
	if (running >= caps.max_running)
		return;
	users_refresh(m);
	jobs = eligible(m, &idx, &n);
	if (!jobs)
		return;
	order = calloc(n ? n : 1, sizeof *order);
	k = order ? sched_order(&caps, running, m->q_users, m->q_nusers, jobs, n,
				&m->q_clock, order, caps.max_running - running)
		  : 0;
	for (size_t i = 0; i < k; i++)
		start_one(m, idx[order[i]], running + (uint32_t)i + 1);
	free(order);
	free(jobs);
	free(idx);
}

/* --- clients and the life of corrald --------------------------------- */

void queue_client_gone(struct mgr *m, struct client *c)
{
	if (c->run_q)
		c->run_q->waiter = NULL;
	c->run_q = NULL;
}

void queue_stop_waiters(struct mgr *m)
{
	char msg[MESSAGE_LEN_MAX];

	for (struct qjob *q = m->q_head; q; q = q->next) {
		snprintf(msg, sizeof msg,
			 "corrald is stopping; job %s stays queued and starts when it is back",
			 q->id);
		tell_waiter(m, q, EAGAIN, STAGE_NONE, msg);
	}
}

static int load_one(void *ctx, const struct queued_row *r, struct cerr *e)
{
	struct mgr *m = ctx;
	struct qspec s = { .id = r->id, .uid = r->uid, .priority = r->priority,
			   .after = r->after[0] ? r->after : NULL,
			   .after_ok = r->after_ok, .blocked = r->after[0] != 0 };
	struct job_live live;

	return queue_add(m, NULL, &s, &live, e);
}

/* Whether what q waits for has ended (or its row is gone). */
static bool after_ended(struct mgr *m, const struct qjob *q)
{
	char state[STATE_LEN_MAX + 1];
	struct cerr e;
	int code, st;

	if (store_end_of(m->store, q->after, state, &code, &e) < 0)
		return e.num == ENOENT;
	st = state_from_name(state);
	return st < 0 || state_is_final((enum job_state)st);
}

/* The queued rows, in arrival order; then what each waits for, which
 * may have ended while corrald was away (or been marked lost at this
 * start-up). */
int queue_load(struct mgr *m, struct cerr *e)
{
	struct qjob *q;
	uint32_t rounds;

	if (store_queued(m->store, load_one, m, e) < 0)
		return -1;
	/* Settling one may cancel others: walk again from the top (each
	 * round settles one at least, unless the store fails). */
	rounds = m->nqueued;
	do {
		for (q = m->q_head; q; q = q->next)
			if (q->blocked && after_ended(m, q))
				break;
		if (q)
			queue_job_ended(m, q->after);
	} while (q && rounds--);
	if (m->nqueued)
		logmsg("%u queued job(s) wait for a slot", m->nqueued);
	return 0;
}

/* A RUN that waited in the queue when corrald reloaded: the same
 * connection waits on in the successor (resume.c). */
int queue_attach(struct mgr *m, struct client *c, const char *id)
{
	struct qjob *q = queue_find(m, id);

	if (!q || q->waiter)
		return -1;
	q->waiter = c;
	c->run_q = q;
	c->state = SS_RUN;
	return 0;
}

const char *queue_job_id(const struct qjob *q)
{
	return q->id;
}
