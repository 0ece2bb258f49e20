/* Retention: the disk must not grow forever.  Finished jobs' logs go
 * after log_keep, or oldest first while all logs take more than log_space
 * or one user's more than user_log_space; job rows (with their logs)
 * after job_keep; audit rows after audit_keep.  A timer pass deletes at
 * most PRUNE_BATCH of each kind, so the loop is never held up; a full
 * batch brings the next pass soon, else one a minute.  Every pass that
 * deletes anything leaves one audit row saying what.  A pass's batch is
 * pc->batch; `corral prune --dry-run` counts with a large one. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "parse.h"

#define PRUNE_BATCH 64		/* of each kind, per timer pass */
#define PRUNE_EVERY_MS 60000
#define PRUNE_SOON_MS 200
#define USERS_PER_PASS 16

static void unlink_log(struct mgr *m, const char *id)
{
	struct cerr e;

	if (logf_remove(m, id, &e) < 0)
		logmsg("%s", e.msg);
}

/* Delete picked logs (dry: only count them).  *full: the pick was a whole
 * batch, so more may be left. */
static int drop_logs(struct mgr *m, struct prune_count *pc,
		     const struct store_pick *p, uint32_t n, uint64_t *freed,
		     struct cerr *e)
{
	int64_t now = now_ms();

	for (uint32_t i = 0; i < n; i++) {
		if (!pc->dry) {
			unlink_log(m, p[i].id);
			if (store_log_deleted(m->store, p[i].id, now, e) < 0)
				return -1;
		}
		pc->logs++;
		pc->log_bytes += p[i].size;
		if (freed)
			*freed += p[i].size;
	}
	pc->more |= n == pc->batch;
	return 0;
}

/* Oldest logs while more than limit bytes are kept; pick() lists them. */
typedef int (*pick_fn)(struct store *s, uint32_t arg, uint32_t max,
		       struct store_pick *out, uint32_t *n, struct cerr *e);

static int oldest_all(struct store *s, uint32_t arg, uint32_t max,
		      struct store_pick *out, uint32_t *n, struct cerr *e)
{
	return store_pick_oldest_logs(s, max, out, n, e);
}

static int over_budget(struct mgr *m, struct prune_count *pc, pick_fn pick,
		       uint32_t arg, uint64_t kept, uint64_t limit,
		       struct cerr *e)
{
	uint64_t freed = 0;
	uint32_t n, take = 0;

	if (!limit || kept <= limit)
		return 0;
	if (pick(m->store, arg, pc->batch, pc->picks, &n, e) < 0)
		return -1;
	/* only as many as bring it under the limit */
	while (take < n && kept - freed > limit)
		freed += pc->picks[take++].size;
	return drop_logs(m, pc, pc->picks, take, NULL, e);
}

static int expired_logs(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	uint32_t n;

	if (!m->conf.log_keep_ms)
		return 0;
	if (store_pick_old_logs(m->store, now_ms() - (int64_t)m->conf.log_keep_ms,
				pc->batch, pc->picks, &n, e) < 0)
		return -1;
	return drop_logs(m, pc, pc->picks, n, NULL, e);
}

static int user_quotas(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	struct store_user u[USERS_PER_PASS];
	uint32_t n;

	if (!m->conf.user_log_space)
		return 0;
	if (store_users_over(m->store, m->conf.user_log_space, USERS_PER_PASS,
			     u, &n, e) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (over_budget(m, pc, store_pick_user_logs, u[i].uid, u[i].bytes,
				m->conf.user_log_space, e) < 0)
			return -1;
	pc->more |= n == USERS_PER_PASS;
	return 0;
}

static int total_space(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	uint64_t kept;

	if (!m->conf.log_space || store_log_total(m->store, &kept, e) < 0)
		return m->conf.log_space ? -1 : 0;
	return over_budget(m, pc, oldest_all, 0, kept, m->conf.log_space, e);
}

static int expired_jobs(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	uint32_t n;

	if (!m->conf.job_keep_ms)
		return 0;
	if (store_pick_old_jobs(m->store, now_ms() - (int64_t)m->conf.job_keep_ms,
				pc->batch, pc->picks, &n, e) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (!pc->dry) {
			unlink_log(m, pc->picks[i].id);
			if (store_delete_job(m->store, pc->picks[i].id, e) < 0)
				return -1;
		}
		pc->jobs++;
	}
	pc->more |= n == pc->batch;
	return 0;
}

static int expired_audit(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	int64_t before = now_ms() - (int64_t)m->conf.audit_keep_ms;
	uint32_t n = 0;

	if (!m->conf.audit_keep_ms)
		return 0;
	if ((pc->dry ? store_count_old_audit(m->store, before, pc->batch * 16, &n, e)
		     : store_prune_audit(m->store, before, pc->batch * 16, &n, e)) < 0)
		return -1;
	pc->audit += n;
	pc->more |= n == pc->batch * 16;
	return 0;
}

static int prune_rules(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	if (expired_logs(m, pc, e) < 0 || user_quotas(m, pc, e) < 0 ||
	    total_space(m, pc, e) < 0 || expired_jobs(m, pc, e) < 0 ||
	    expired_audit(m, pc, e) < 0)
		return -1;
	return 0;
}

int prune_pass(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	struct store_pick *own = NULL;
	int r;

	if (!pc->batch)
		pc->batch = PRUNE_BATCH;
	if (!pc->picks) {
		own = pc->picks = calloc(pc->batch, sizeof *pc->picks);
		if (!own)
			return cerr_sys(e, "retention");
	}
	pc->more = false;
	r = prune_rules(m, pc, e);
	if (own) {
		free(own);
		pc->picks = NULL;
	}
	return r;
}



void prune_timer(struct mgr *m)
{
	struct ident self = { .uid = (uint32_t)getuid() };
	struct prune_count pc = { 0 };
	char detail[160];
	struct cerr e;

	if (!m->prune_at || mono_ms() < m->prune_at)
		return;
	if (prune_pass(m, &pc, &e) < 0) {
		logmsg("retention: %s", e.msg);
		m->prune_at = mono_ms() + PRUNE_EVERY_MS;
		return;
	}
	if (pc.logs || pc.jobs || pc.audit) {
		prune_describe(&pc, detail, sizeof detail);
		audit(m, &self, "prune", NULL, "ok", detail, false);
	}
	m->prune_at = mono_ms() + (pc.more ? PRUNE_SOON_MS : PRUNE_EVERY_MS);
}
