/* The request layer: decoded client requests in, replies out.  Nothing
 * here touches a socket or the helper directly (see struct mgr_ops), so
 * the fuzz target drives it against an in-memory store. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "cleanup.h"
#include "job.h"
#include "parse.h"
#include "proto.h"

#define LIST_DEFAULT_LIMIT 1000
#define LIST_PAGE 64
#define QUEUE_LOW_WATER (64 * 1024)	/* refill a LIST below this */
/* Room a JOB record needs beyond the RUN fields it repeats. */
#define JOB_RECORD_EXTRA 2048

/* detail, then " via=NOTE" if the connection came with a VIA note, within
 * len bytes (the note is kept whole, the detail cut if it must be). */
static const char *via_detail(const struct ident *who, const char *detail,
			      char *buf, size_t len)
{
	size_t room;

	if (!who->via[0])
		return detail;
	room = len - strlen(who->via) - sizeof " via=";
	snprintf(buf, len, "%.*s%svia=%s", (int)room, detail ? detail : "",
		 detail && *detail ? " " : "", who->via);
	return buf;
}

int audit(struct mgr *m, const struct ident *who, const char *action,
	  const char *job_id, const char *outcome, const char *detail,
	  bool durable)
{
	char buf[MESSAGE_LEN_MAX];
	struct audit_rec a = {
		.time_ms = now_ms(), .uid = who->uid, .pid = who->pid,
		.action = action, .job_id = job_id, .outcome = outcome,
		.detail = via_detail(who, detail, buf, sizeof buf),
	};
	struct cerr e;

	if (store_audit(m->store, &a, durable, &e) < 0) {
		logmsg("audit %s/%s by uid %u%s%s not recorded: %s", action,
		       outcome, who->uid, job_id ? " of job " : "",
		       job_id ? job_id : "", e.msg);
		return -1;
	}
	return 0;
}

/* Every request that is carried out has its audit row first: one that
 * cannot be recorded (a full disk) is refused instead.  (stop and kill
 * are the exception: a full disk must not keep anyone from stopping a
 * job, so they go ahead and corrald's own log has them.) */
static int audited(struct mgr *m, struct client *c, const char *action,
		   const char *job_id, const char *detail)
{
	if (audit(m, &c->who, action, job_id, "ok", detail, false) == 0)
		return 0;
	reply_error(c, EIO, STAGE_NONE,
		    "corrald cannot record this request in its audit log (is its disk full?); nothing was done");
	return -1;
}

static void push(struct client *c, struct wire_out *o)
{
	struct cerr e;

	if (outq_push(&c->q, o, &e) < 0) {
		logmsg("reply to uid %u dropped: %s", c->who.uid, e.msg);
		c->closing = true;
	}
	wire_out_free(o);
}

void reply_error(struct client *c, int num, unsigned stage, const char *fmt, ...)
{
	char msg[MESSAGE_LEN_MAX];
	struct wire_out o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	wire_out_init(&o, &proto_client_rep, C_ERROR);
	wire_put_u32(&o, F_ERRNO, num > 0 && num < 4096 ? (uint32_t)num : EIO);
	wire_put_str(&o, F_MESSAGE, msg);
	if (stage != STAGE_NONE)
		wire_put_u32(&o, F_STAGE, stage);
	push(c, &o);
}

static void reply_ok(struct client *c, const char *job_id)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_rep, C_OK);
	if (job_id)
		wire_put_str(&o, F_JOB_ID, job_id);
	push(c, &o);
}

/* Refuse a request: audit it and answer ERROR. */
static void refuse(struct mgr *m, struct client *c, const char *action,
		   const char *job_id, const struct cerr *e)
{
	audit(m, &c->who, action, job_id,
	      e->num == EACCES ? "denied" : "error", e->msg,
	      e->num == EACCES);
	reply_error(c, e->num, STAGE_NONE, "%s", e->msg);
}

/* --- RUN ------------------------------------------------------------- */

static size_t body_size(const struct wire_msg *msg)
{
	size_t n = 0;

	for (uint32_t i = 0; i < msg->nvals; i++)
		n += WIRE_FIELD_HDR_LEN + msg->vals[i].len;
	return n;
}

/* KEY=VALUE with a name a shell could set: `--env 'A B=1'` is refused
 * here, naming the name, rather than handed to a job that cannot use it. */
static int check_env(const struct wire_msg *msg, struct cerr *e)
{
	const struct wire_val *v;

	for (size_t i = 0; (v = wire_nth(msg, F_ENV, i)); i++) {
		const char *s = (const char *)v->p, *eq = memchr(s, '=', v->len);
		int klen = eq ? (int)(eq - s) : 0;

		if (!eq || eq == s)
			return cerr_set(e, EINVAL, "env[%zu] \"%.64s\" is not KEY=VALUE", i, s);
		if (!env_name_valid(s, (size_t)klen))
			return cerr_set(e, EINVAL,
					"env[%zu]: \"%.*s\" is not a variable name (a letter or _, then letters, digits and _)",
					i, klen < 64 ? klen : 64, s);
	}
	return 0;
}

static int check_run(const struct wire_msg *msg, struct cerr *e)
{
	const char *argv0 = wire_str(msg, F_ARGV);
	const char *cwd = wire_str(msg, F_CWD);
	struct runopts opt;

	if (!argv0 || !argv0[0])
		return cerr_set(e, EINVAL, "argv[0] is empty");
	if (!cwd || cwd[0] != '/')
		return cerr_set(e, EINVAL, "cwd \"%s\" is not an absolute path",
				cwd ? cwd : "");
	runopts_get(msg, &opt);
	if (runopts_check(&opt, e) < 0)
		return -1;
	/* The helper refuses it too; say it before anything is recorded. */
	if (runopt_has(&opt, OPT_TTY) && (wire_u32(msg, F_NS_OFF, 0) & NS_MNT))
		return cerr_set(e, EINVAL, "--tty needs the job's own mount namespace (drop --no-mount)");
	if (body_size(msg) > WIRE_MAX_BODY - JOB_RECORD_EXTRA)
		return cerr_set(e, E2BIG,
				"request of %zu bytes is too large to record (limit %u)",
				body_size(msg), WIRE_MAX_BODY - JOB_RECORD_EXTRA);
	return check_env(msg, e);
}

/* The audit row's detail: the whole command line as a shell would take
 * it back (a word with a special character in single quotes, or in
 * double quotes if it has a single quote and nothing double quotes
 * change), cut at AUDIT_ARGV_MAX bytes with "...", then the name. */
#define AUDIT_ARGV_MAX 600
/* True if all of w fitted. */
static bool put_word(char *buf, size_t *used, const char *w)
{
	char q = '\'';

	if (*w && !strpbrk(w, " \t\n'\"\\$`;&|<>()*?[]#~=%!{}")) {
		q = 0;
	} else if (strchr(w, '\'') && !strpbrk(w, "\"\\$`!")) {
		q = '"';
	}
	if (q)
		buf[(*used)++] = q;
	for (; *w && *used < AUDIT_ARGV_MAX; w++) {
		if (*w == '\'' && q == '\'') {
			memcpy(buf + *used, "'\\''", 4);	/* close, \', reopen */
			*used += 4;
		} else {
			buf[(*used)++] = *w;
		}
	}
	if (q)
		buf[(*used)++] = q;
	return !*w;
}

static void run_detail(const struct wire_msg *msg, char *buf, size_t len)
{
	size_t n = 0, used = 0, i = 0;
	_cleanup_free_ const char **argv = wire_strv(msg, F_ARGV, &n);
	bool whole = true;

	/* buf has AUDIT_ARGV_MAX + 8 bytes at least: a word may overrun
	 * the limit by a quote, or an escaped quote and a closing one. */
	for (; argv && i < n && used < AUDIT_ARGV_MAX && whole; i++) {
		if (i)
			buf[used++] = ' ';
		whole = put_word(buf, &used, argv[i]);
	}
	/* Cut only what did not fit: a line of exactly the limit is whole. */
	if (used > AUDIT_ARGV_MAX || !whole || (argv && i < n)) {
		memcpy(buf + AUDIT_ARGV_MAX - 3, "...", 3);
		used = AUDIT_ARGV_MAX;
	}
	buf[used] = '\0';
	if (wire_has(msg, F_NAME))
		snprintf(buf + strlen(buf), len - strlen(buf), " name=%s",
			 wire_str(msg, F_NAME));
}

/* --after JOB: the job, resolved as the caller's references are; whether
 * it has not ended yet (*blocked), or has ended so that this one can
 * never run (--after-ok and not exited 0: why in cancel). */
static int after_job(struct mgr *m, struct client *c, const struct wire_msg *msg,
		     char after[JOB_ID_LEN + 1], bool *blocked, char *cancel,
		     size_t len, struct cerr *e)
{
	struct ref_query q = {
		.ref = wire_str(msg, F_AFTER), .uid = c->who.uid,
		.admin = c->who.admin, .name_uid = c->who.uid,
	};
	char state[STATE_LEN_MAX + 1];
	int code, st;

	if (store_resolve(m->store, &q, after, e) < 0 ||
	    store_end_of(m->store, after, state, &code, e) < 0)
		return cerr_wrap(e, "--after");
	st = state_from_name(state);
	*blocked = st >= 0 && !state_is_final((enum job_state)st);
	if (!*blocked && wire_u32(msg, F_AFTER_OK, 0) &&
	    (strcmp(state, "exited") || code != 0)) {
		if (code >= 0)
			snprintf(cancel, len, "job %s ended %s with exit code %d, not 0 (--after-ok)",
				 after, state, code);
		else
			snprintf(cancel, len, "job %s ended %s, not with exit code 0 (--after-ok)",
				 after, state);
	}
	return 0;
}

/* What a RUN may ask beyond check_run, given who asks. */
static int check_queueing(const struct client *c, const struct wire_msg *msg,
			  struct cerr *e)
{
	uint64_t prio = wire_u64(msg, F_PRIORITY, 0);

	if (wire_u32(msg, F_AFTER_OK, 0) && !wire_has(msg, F_AFTER))
		return cerr_set(e, EINVAL, "after_ok without a job to wait for (after)");
	if (wire_has(msg, F_AFTER) && wire_u32(msg, F_NO_QUEUE, 0))
		return cerr_set(e, EINVAL, "--no-queue cannot wait for another job (--after)");
	if (prio > PRIORITY_USER_MAX && !c->who.admin)
		return cerr_set(e, EACCES, "--priority %llu: above %d needs admin rights",
				(unsigned long long)prio, PRIORITY_USER_MAX);
	return 0;
}

static void reply_queued(struct client *c, const char *id,
			 const struct job_live *live)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_rep, C_QUEUED);
	wire_put_str(&o, F_JOB_ID, id);
	if (live->position)
		wire_put_u32(&o, F_POSITION, live->position);
	if (live->waiting[0])
		wire_put_str(&o, F_WAITING, live->waiting);
	push(c, &o);
}

/* RUN with hangup: the job lives as long as this connection (one job
 * per connection: an attached `corral run`). */
static void tie_to_client(struct client *c, const struct wire_msg *msg,
			  const char *id)
{
	if (wire_u32(msg, F_HANGUP, 0))
		snprintf(c->hup_id, sizeof c->hup_id, "%s", id);
}

/* A RUN starts now, waits in the queue (over a cap, or for another
 * job), or is cancelled at once (its --after-ok job failed already);
 * each is committed with its audit rows before anything is answered. */
static void do_run(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	char id[JOB_ID_LEN + 1], detail[AUDIT_ARGV_MAX + NAME_LEN_MAX + 8];
	char after[JOB_ID_LEN + 1] = "", cancel[200] = "", wait[120];
	char buf[2][MESSAGE_LEN_MAX];
	bool has_after = wire_has(msg, F_AFTER), blocked = false;
	struct job_env env;
	struct job_live live;
	struct cerr e;
	int place = 0;
	uuid_t u;

	if (check_run(msg, &e) < 0 || check_queueing(c, msg, &e) < 0)
		return refuse(m, c, "run", NULL, &e);
	/* Bounded by proto.c; the store does not keep them. */
	c->rows = (uint16_t)wire_u32(msg, F_ROWS, 0);
	c->cols = (uint16_t)wire_u32(msg, F_COLS, 0);
	if (m->stop_at) {
		cerr_set(&e, EAGAIN, "corrald is stopping; try again when it is back");
		return refuse(m, c, "run", NULL, &e);
	}
	if (!m->helper_ready) {
		cerr_set(&e, EAGAIN, m->helper_pid > 0 ?
			 "the helper is starting; try again in a moment" :
			 "the helper is not running (restarting); try again");
		return refuse(m, c, "run", NULL, &e);
	}
	if (has_after && after_job(m, c, msg, after, &blocked, cancel, sizeof cancel, &e) < 0)
		return refuse(m, c, "run", NULL, &e);
	if (!cancel[0] &&
	    (place = m->ops->place(m, c->who.uid, blocked, wire_u32(msg, F_NO_QUEUE, 0), &e)) < 0) {
		/* Over a cap with --no-queue: what the helper's max_jobs
		 * used to answer, a start the policy refused (exit 126). */
		audit(m, &c->who, "run", NULL, "error", e.msg, false);
		return reply_error(c, e.num, e.num == EAGAIN ? STAGE_POLICY : STAGE_NONE,
				   "%s", e.msg);
	}
	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
	run_detail(msg, detail, sizeof detail);
	if (blocked)
		snprintf(wait, sizeof wait, "waiting for job %s", after);
	else
		snprintf(wait, sizeof wait, "waiting for a slot");
	struct audit_rec a[2] = {
		{ .time_ms = now_ms(), .uid = c->who.uid, .pid = c->who.pid,
		  .action = "run", .job_id = id, .outcome = "ok",
		  .detail = via_detail(&c->who, detail, buf[0], sizeof buf[0]) },
		{ .time_ms = a[0].time_ms, .uid = c->who.uid, .pid = c->who.pid,
		  .action = cancel[0] ? "cancel" : "queue", .job_id = id,
		  .outcome = "ok",
		  .detail = via_detail(&c->who, cancel[0] ? cancel : wait,
				       buf[1], sizeof buf[1]) },
	};
	if (job_env_compose(msg, c->who.uid, &env, &e) < 0) {
		job_env_free(&env);
		return refuse(m, c, "run", NULL, &e);
	}
	struct new_job nj = {
		.id = id, .uid = c->who.uid, .user = c->who.user,
		.now = a[0].time_ms, .run = msg, .env = env.v, .nenv = env.n,
		.queued = place == 1, .after_id = has_after ? after : NULL,
		.after_ok = wire_u32(msg, F_AFTER_OK, 0),
		.cancel_why = cancel[0] ? cancel : NULL,
	};
	if (store_insert_job(m->store, &nj, a, place == 1 || cancel[0] ? 2 : 1, &e) < 0) {
		job_env_free(&env);
		return refuse(m, c, "run", NULL, &e);
	}
	if (cancel[0]) {
		reply_error(c, ECANCELED, STAGE_NONE, "job %s was cancelled: %s", id, cancel);
	} else if (place == 1) {
		struct qspec q = { .id = id, .uid = c->who.uid,
				   .priority = (uint32_t)wire_u64(msg, F_PRIORITY, 0),
				   .after = has_after ? after : NULL,
				   .after_ok = nj.after_ok, .blocked = blocked };
		if (m->ops->enqueue(m, c, &q, &live, &e) < 0) {
			reply_error(c, e.num, STAGE_NONE, "%s", e.msg);
		} else {
			reply_queued(c, id, &live);
			tie_to_client(c, msg, id);
		}
	} else if (m->ops->launch(m, c, id, msg, &env, &e) < 0) {
		char why[MESSAGE_LEN_MAX];
		struct cerr e2;
		if (store_set_failed(m->store, id, STAGE_MANAGER, e.num, e.msg,
				     now_ms(), &e2) < 0)
			logmsg("job %s: %s", id, e2.msg);
		snprintf(why, sizeof why, "start failed at stage manager: %s", e.msg);
		/* The RUN row says "ok": it was accepted.  Its failure to
		 * start is an outcome of its own, as the helper's are. */
		audit(m, &c->who, "start", id, "failed", why, true);
		reply_error(c, e.num, STAGE_MANAGER, "%s", why);
	} else {
		c->state = SS_RUN;
		tie_to_client(c, msg, id);
	}
	job_env_free(&env);
}

/* --- job references -------------------------------------------------- */

/* Resolve F_JOB_REF for c; refuse (audited) on failure.  Names are the
 * caller's own; an admin names another user's jobs with F_UID. */
static int resolve_as(struct mgr *m, struct client *c, const char *action,
		      const struct wire_msg *msg, bool unfinished_first,
		      char id[JOB_ID_LEN + 1])
{
	struct ref_query q = {
		.ref = wire_str(msg, F_JOB_REF), .uid = c->who.uid,
		.admin = c->who.admin, .name_uid = c->who.uid,
		.unfinished_first = unfinished_first,
	};
	struct cerr e;

	if (wire_has(msg, F_UID)) {
		q.name_uid = wire_u32(msg, F_UID, 0);
		if (q.name_uid != c->who.uid && !c->who.admin) {
			cerr_set(&e, EACCES, "naming another user's jobs needs admin rights");
			refuse(m, c, action, NULL, &e);
			return -1;
		}
	}
	if (store_resolve(m->store, &q, id, &e) < 0) {
		refuse(m, c, action, NULL, &e);
		return -1;
	}
	return 0;
}

static int resolve(struct mgr *m, struct client *c, const char *action,
		   const struct wire_msg *msg, char id[JOB_ID_LEN + 1])
{
	return resolve_as(m, c, action, msg, false, id);
}

static void do_status(struct mgr *m, struct client *c,
		      const struct wire_msg *msg)
{
	char id[JOB_ID_LEN + 1];
	struct job_live live;
	struct wire_out o;
	struct cerr e;

	if (resolve(m, c, "status", msg, id) < 0)
		return;
	/* A running job's output figures are its log's, not the row's
	 * (written at the end). */
	if (store_job_msg(m->store, id, m->ops->live_output(m, id, &live) ? &live : NULL,
			  &o, &e) < 0) {
		wire_out_free(&o);
		return refuse(m, c, "status", id, &e);
	}
	if (audited(m, c, "status", id, NULL) < 0) {
		wire_out_free(&o);
		return;
	}
	push(c, &o);
}

/* A name given to stop or kill means a job of that name still running,
 * and not one already being stopped: "stop dup" twice stops both.  The
 * note names the others still running under it. */
static void pick_by_name(struct mgr *m, const char *name, uint32_t uid,
			 char id[JOB_ID_LEN + 1], char *note, size_t len)
{
	char ids[8][JOB_ID_LEN + 1];
	int n = 0, pick = -1;
	size_t used = 0;
	struct cerr e;

	if (store_by_name(m->store, name, uid, true, ids, 8, &n, &e) < 0 || n < 1)
		return;
	for (int i = 0; i < n && pick < 0; i++)
		if (!m->ops->stopping(m, ids[i]))
			pick = i;
	if (pick < 0)
		pick = 0;
	memcpy(id, ids[pick], JOB_ID_LEN + 1);
	for (int i = 0; i < n && used < len; i++) {
		int w;
		if (i == pick)
			continue;
		w = snprintf(note + used, len - used, "%s%.8s", used ? ", " : "also running as \"", ids[i]);
		used += w > 0 ? (size_t)w : 0;
	}
	if (used && used < len)
		snprintf(note + used, len - used, "\" (%s), by id", name);
}

/* STOP, KILL, or KILL with a signal (KILL itself is the plain KILL). */
static int stop_one(struct mgr *m, const struct wire_msg *msg, const char *id,
		    bool kill, char *detail, size_t len, struct cerr *e)
{
	uint64_t grace = wire_u64(msg, F_GRACE_MS, m->conf.stop_grace_ms);
	int sig = (int)wire_u32(msg, F_SIGNAL, SIGKILL);
	bool fg = wire_u32(msg, F_FOREGROUND, 0);

	if (kill && sig != SIGKILL) {
		snprintf(detail, len, "signal=%d%s", sig, fg ? " foreground" : "");
		return m->ops->signal(m, id, sig, fg, e);
	}
	if (!kill)
		snprintf(detail, len, "grace_ms=%llu", (unsigned long long)grace);
	return m->ops->stop(m, id, kill, grace, e);
}

static void do_stop(struct mgr *m, struct client *c, const struct wire_msg *msg,
		    bool kill)
{
	const char *action = kill ? "kill" : "stop";
	char id[JOB_ID_LEN + 1], detail[64] = "", note[200] = "";
	char state[STATE_LEN_MAX + 1];
	struct wire_out o;
	bool finished;
	struct cerr e;

	if (kill && wire_has(msg, F_SIGNAL) &&
	    (int)wire_u32(msg, F_SIGNAL, 0) != SIGKILL &&
	    signal_check_sig((int)wire_u32(msg, F_SIGNAL, 0),
			     wire_u32(msg, F_FOREGROUND, 0), &e) < 0)
		return refuse(m, c, action, NULL, &e);
	if (resolve_as(m, c, action, msg, true, id) < 0)
		return;
	if (!job_id_valid(wire_str(msg, F_JOB_REF)))
		pick_by_name(m, wire_str(msg, F_JOB_REF),
			     wire_u32(msg, F_UID, c->who.uid), id, note, sizeof note);
	if (store_finished(m->store, id, &finished, NULL, &e) < 0 ||
	    (finished && store_state(m->store, id, state, &e) < 0))
		return refuse(m, c, action, id, &e);
	/* Stopping what has ended is done already: say so, and succeed. */
	if (finished) {
		snprintf(note, sizeof note, "job %s has already ended (%s)", id, state);
		snprintf(detail, sizeof detail, "already %s", state);
	} else if (stop_one(m, msg, id, kill, detail, sizeof detail, &e) < 0) {
		return refuse(m, c, action, id, &e);
	}
	audit(m, &c->who, action, id, "ok", detail, true);
	wire_out_init(&o, &proto_client_rep, C_OK);
	wire_put_str(&o, F_JOB_ID, id);
	if (note[0])
		wire_put_str(&o, F_MESSAGE, note);
	push(c, &o);
}

static void do_follow(struct mgr *m, struct client *c,
		      const struct wire_msg *msg)
{
	uint32_t streams = wire_u32(msg, F_STREAMS,
				    STREAM_STDOUT | STREAM_STDERR | STREAM_META);
	bool live = wire_u32(msg, F_FOLLOW, 0);
	char id[JOB_ID_LEN + 1];
	struct cerr e;

	bool finished;
	int64_t deleted;

	if (resolve(m, c, "follow", msg, id) < 0)
		return;
	if (store_finished(m->store, id, &finished, &deleted, &e) < 0)
		return refuse(m, c, "follow", id, &e);
	if (deleted && streams) {
		cerr_set(&e, ENOENT, "the log of job %s was deleted (by retention or corral rm)", id);
		return refuse(m, c, "follow", id, &e);
	}
	if (audited(m, c, "follow", id, live ? "follow=1" : "follow=0") < 0)
		return;
	if (m->ops->follow(m, c, id, streams, live, &e) < 0)
		return refuse(m, c, "follow", id, &e);
	/* A reconnecting follower goes on where it was (checked by the
	 * first push, which has the log). */
	if (wire_has(msg, F_FROM) && c->state == SS_FOLLOW) {
		c->f.off = c->f.rec_end = wire_u64(msg, F_FROM, 0);
		c->f.seek = true;
	}
}

/* --- RM and PRUNE ---------------------------------------------------- */

/* What a prune pass did or would do, for its reply and its audit row. */
void prune_describe(const struct prune_count *pc, char *buf, size_t len)
{
	char size[32];

	snprintf(buf, len, "%s%u log(s) (%s), %u job(s), %u audit row(s)",
		 pc->dry ? "would delete " : "deleted ", pc->logs,
		 fmt_size(pc->log_bytes, size, sizeof size), pc->jobs, pc->audit);
}

/* A finished job and its log, deleted for good: its own user's or an
 * admin's.  The audit row names the job in its detail (the job_id
 * column of earlier rows goes with the job). */
static void do_rm(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	char id[JOB_ID_LEN + 1], detail[64];
	bool finished;
	struct cerr e;

	if (resolve(m, c, "rm", msg, id) < 0)
		return;
	if (store_finished(m->store, id, &finished, NULL, &e) < 0)
		return refuse(m, c, "rm", id, &e);
	if (!finished) {
		cerr_set(&e, EBUSY, "job %s has not ended: stop it first", id);
		return refuse(m, c, "rm", id, &e);
	}
	snprintf(detail, sizeof detail, "job %s", id);
	if (audit(m, &c->who, "rm", id, "ok", detail, true) < 0) {
		reply_error(c, EIO, STAGE_NONE,
			    "corrald cannot record this request in its audit log (is its disk full?); nothing was done");
		return;
	}
	if (m->ops->rm_log(m, id, &e) < 0 || store_delete_job(m->store, id, &e) < 0)
		return refuse(m, c, "rm", NULL, &e);
	reply_ok(c, id);
}

static void do_prune(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	struct prune_count pc = { .dry = wire_u32(msg, F_DRY_RUN, 0) };
	char text[200];
	struct wire_out o;
	struct cerr e;

	if (!c->who.admin) {
		cerr_set(&e, EACCES, "pruning is for admins only");
		return refuse(m, c, "prune", NULL, &e);
	}
	/* A dry run counts in one wide pass; a real one goes batch by
	 * batch (each quick) until nothing is left. */
	pc.batch = pc.dry ? 100000 : 1024;
	for (int i = 0; i < 1000; i++) {
		if (m->ops->prune(m, &pc, &e) < 0)
			return refuse(m, c, "prune", NULL, &e);
		if (pc.dry || !pc.more)
			break;
	}
	prune_describe(&pc, text, sizeof text);
	if (audit(m, &c->who, "prune", NULL, "ok", text, !pc.dry) < 0 && !pc.dry)
		logmsg("prune by uid %u not audited: %s", c->who.uid, text);
	wire_out_init(&o, &proto_client_rep, C_OK);
	wire_put_str(&o, F_MESSAGE, text);
	push(c, &o);
}

/* --- LIST and AUDIT -------------------------------------------------- */

static int list_row(void *ctx, struct wire_out *o, struct cerr *e)
{
	struct client *c = ctx;

	return outq_push(&c->q, o, e);
}

/* A listed job's place in the queue, or output so far. */
static bool list_live(void *ctx, const char *id, struct job_live *out)
{
	struct mgr *m = ctx;

	return m->ops->live_output(m, id, out);
}

static int list_query_init(struct mgr *m, struct client *c,
			   const struct wire_msg *msg, struct cerr *e)
{
	const char *name = wire_str(msg, F_NAME);
	bool all = wire_u32(msg, F_ALL, 0);

	memset(&c->lq, 0, sizeof c->lq);
	if (all && !c->who.admin)
		return cerr_set(e, EACCES, "listing every user's jobs needs admin rights");
	if (wire_has(msg, F_UID) && wire_u32(msg, F_UID, 0) != c->who.uid &&
	    !c->who.admin)
		return cerr_set(e, EACCES, "listing another user's jobs needs admin rights");
	c->lq.by_uid = !all;
	c->lq.uid = wire_u32(msg, F_UID, c->who.uid);
	if (all && wire_has(msg, F_UID))
		c->lq.by_uid = true;
	c->lq.states = wire_u32(msg, F_STATES, 0);
	c->lq.live = list_live;
	c->lq.live_ctx = m;
	if (name)
		snprintf(c->lq.name, sizeof c->lq.name, "%s", name);
	c->left = wire_u32(msg, F_LIMIT, LIST_DEFAULT_LIMIT);
	return 0;
}

static void do_list(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	struct cerr e;

	if (list_query_init(m, c, msg, &e) < 0)
		return refuse(m, c, "list", NULL, &e);
	if (audited(m, c, "list", NULL, NULL) < 0)
		return;
	c->state = SS_LIST;
	req_more(m, c);
}

static void do_audit(struct mgr *m, struct client *c,
		     const struct wire_msg *msg)
{
	struct cerr e;

	if (!c->who.admin) {
		cerr_set(&e, EACCES, "the audit log is for admins only");
		return refuse(m, c, "audit", NULL, &e);
	}
	if (audited(m, c, "audit", NULL, NULL) < 0)
		return;
	memset(&c->aq, 0, sizeof c->aq);
	c->aq.by_uid = wire_has(msg, F_UID);
	c->aq.uid = wire_u32(msg, F_UID, 0);
	if (wire_has(msg, F_ACTION))
		snprintf(c->aq.action, sizeof c->aq.action, "%s", wire_str(msg, F_ACTION));
	c->aq.since_ms = wire_u64(msg, F_SINCE_MS, 0);
	c->left = wire_u32(msg, F_LIMIT, LIST_DEFAULT_LIMIT);
	c->state = SS_AUDIT;
	req_more(m, c);
}

/* Produce rows while the queue is short, so a slow reader of a long list
 * holds at most about QUEUE_LOW_WATER + one page in memory. */
void req_more(struct mgr *m, struct client *c)
{
	struct wire_out o;
	struct cerr e;

	while ((c->state == SS_LIST || c->state == SS_AUDIT) &&
	       c->q.bytes < QUEUE_LOW_WATER && !c->closing) {
		uint32_t page = c->left < LIST_PAGE ? c->left : LIST_PAGE, n;
		int r = c->state == SS_LIST
			? store_list(m->store, &c->lq, page, list_row, c, &n, &e)
			: store_audit_list(m->store, &c->aq, page,
					   list_row, c, &n, &e);
		if (r < 0) {
			c->state = SS_IDLE;
			reply_error(c, e.num, STAGE_NONE, "%s", e.msg);
			return;
		}
		c->left -= n;
		if (n < page || c->left == 0) {
			c->state = SS_IDLE;
			wire_out_init(&o, &proto_client_rep, C_DONE);
			push(c, &o);
		}
	}
}

static void do_whoami(struct mgr *m, struct client *c)
{
	struct wire_out o;

	if (audited(m, c, "whoami", NULL, NULL) < 0)
		return;
	wire_out_init(&o, &proto_client_rep, C_OK);
	wire_put_u32(&o, F_UID, c->who.uid);
	wire_put_u32(&o, F_ADMIN, c->who.admin);
	push(c, &o);
}

/* VIA: how the client came, in its own words (dial-stdio sends
 * "ssh:<addr>:<port>" from SSH_CONNECTION), kept for the connection's
 * audit details.  Never identity: the uid is SO_PEERCRED's all the same.
 * No reply; only as the first message, once.  Anything else is answered
 * with ERROR and the connection closed, since the client's replies no
 * longer line up with its requests. */
static void do_via(struct mgr *m, struct client *c, const struct wire_msg *msg,
		   bool first)
{
	const char *v = wire_str(msg, F_VIA);
	struct cerr e;

	cerr_set(&e, EPROTO, "VIA comes once, before any request");
	if (first) {
		const char *p = v;
		while (*p > ' ' && *p < 0x7f)
			p++;
		if (!*p) {
			snprintf(c->who.via, sizeof c->who.via, "%s", v);
			return;
		}
		cerr_set(&e, EINVAL, "VIA: the note must be printable ASCII without spaces");
	}
	refuse(m, c, "via", NULL, &e);
	c->closing = true;
}

void req_handle(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	bool first = !c->asked;

	c->asked = true;
	switch (msg->type) {
	case C_VIA:
		return do_via(m, c, msg, first);
	case C_RUN:
		return do_run(m, c, msg);
	case C_FOLLOW:
		return do_follow(m, c, msg);
	case C_LIST:
		return do_list(m, c, msg);
	case C_STATUS:
		return do_status(m, c, msg);
	case C_STOP:
		return do_stop(m, c, msg, false);
	case C_KILL:
		return do_stop(m, c, msg, true);
	case C_AUDIT:
		return do_audit(m, c, msg);
	case C_WHOAMI:
		return do_whoami(m, c);
	case C_RM:
		return do_rm(m, c, msg);
	case C_PRUNE:
		return do_prune(m, c, msg);
	case C_INPUT:
	case C_WINSIZE:
		return m->ops->input(m, c, msg);
	}
	/* Nothing else gets here: the decoder refuses every type that does
	 * not travel towards corrald. */
}
