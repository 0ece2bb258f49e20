/* The queue's order, as a pure function: which queued jobs start next,
 * given what runs and the caps.  No corrald state, so unit tests drive
 * it directly (tests/unit/test_sched.c).  See docs/queue.md. */
#ifndef CORRAL_SCHED_H
#define CORRAL_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* A user with running or queued jobs.  last_start orders users that run
 * as many jobs: the one whose last start is oldest goes first (0: none
 * yet), so users take turns. */
struct sched_user {
	uint32_t uid;
	uint32_t running;
	uint64_t last_start;
};

/* A queued job that may start (not waiting for another job).  seq is
 * its place in arrival order; idx is the caller's, returned in out[]. */
struct sched_job {
	uint32_t uid;
	uint32_t priority;
	uint64_t seq;
	uint32_t idx;
};

struct sched_caps {
	uint32_t max_running;		/* all users together */
	uint32_t user_max_running;	/* one user */
};

/* Up to max jobs in the order they start, as their idx, into out; returns
 * how many.  Each pick: among users below user_max_running with a job,
 * the one with the fewest running, then the oldest last_start, then the
 * one whose next job is oldest; and of that user's jobs the one with the
 * highest priority, then the oldest (its next job).  A pick counts as
 * running for the next pick, and none is made once running reaches
 * max_running.  jobs is reordered; users' running and last_start are
 * updated as if the picks started (last_start from *clock, which
 * advances).  A job whose user is not in users counts as one of a user
 * with nothing running that never started a job. */
size_t sched_order(const struct sched_caps *caps, uint32_t running,
		   struct sched_user *users, size_t nusers,
		   struct sched_job *jobs, size_t n, uint64_t *clock,
		   uint32_t *out, size_t max);

#endif
