/* The queue's order (sched.h): round robin across users, the user with
 * the fewest running first; within a user, priority, then arrival. */
#include "sched.h"

#include <stdbool.h>
#include <stdlib.h>

static int by_user_then_rank(const void *a, const void *b)
{
	const struct sched_job *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct sched_user *find_user(struct sched_user *users, size_t n,
				    uint32_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (users[i].uid == uid)
			return &users[i];
	return NULL;
}

/* One user's queued jobs: jobs[next .. end), best first. */
struct run_of {
	size_t next, end;
	struct sched_user *u;
	struct sched_user none;		/* u when the caller listed none */
};

/* Whether user a goes before user b: fewer running, an older last start,
 * then an older next job. */
static bool before(const struct sched_job *jobs, const struct run_of *a,
		   const struct run_of *b)
{
	if (a->u->running != b->u->running)
		return a->u->running < b->u->running;
	if (a->u->last_start != b->u->last_start)
		return a->u->last_start < b->u->last_start;
	return jobs[a->next].seq < jobs[b->next].seq;
}

size_t sched_order(const struct sched_caps *caps, uint32_t running,
		   struct sched_user *users, size_t nusers,
		   struct sched_job *jobs, size_t n, uint64_t *clock,
		   uint32_t *out, size_t max)
{
	struct run_of *runs;
	size_t nruns = 0, k = 0;

	if (!n || !max)
		return 0;
	runs = calloc(n, sizeof *runs);
	if (!runs)
		return 0;
	qsort(jobs, n, sizeof *jobs, by_user_then_rank);
	for (size_t i = 0; i < n; i++) {
		if (i && jobs[i].uid == jobs[i - 1].uid) {
			runs[nruns - 1].end = i + 1;
			continue;
		}
		struct run_of *r = &runs[nruns++];
		r->next = i;
		r->end = i + 1;
		r->u = find_user(users, nusers, jobs[i].uid);
		if (!r->u) {
			r->none.uid = jobs[i].uid;
			r->u = &r->none;
		}
	}
	while (k < max && running < caps->max_running) {
		struct run_of *best = NULL;

		for (size_t i = 0; i < nruns; i++) {
			struct run_of *r = &runs[i];

			if (r->next >= r->end || r->u->running >= caps->user_max_running)
				continue;
			if (!best || before(jobs, r, best))
				best = r;
		}
		if (!best)
			break;
		out[k++] = jobs[best->next++].idx;
		best->u->running++;
		best->u->last_start = ++*clock;
		running++;
	}
	free(runs);
	return k;
}
