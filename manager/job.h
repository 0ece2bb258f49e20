/* Jobs corrald is running right now, and their log files.  A struct job
 * lives from RUN until the end is recorded; a struct logf lives while the
 * job or any follower needs it. */
#ifndef CORRAL_JOB_H
#define CORRAL_JOB_H

#include "mgr.h"

struct logf {
	int refs;
	int fd;			/* -1: no log file (nothing was written) */
	uint64_t size;		/* bytes of complete records */
	bool done;		/* the job's end is recorded */
	struct obuf *final;	/* its last JOB record, once done */
	struct client *followers;
	char job_id[JOB_ID_LEN + 1];
};

struct logf *logf_new(int fd, uint64_t size, bool done, const char *id);
void logf_put(struct logf *l);

struct pipe_src {
	struct ev ev;
	struct job *job;
	int fd;			/* -1 after EOF */
	uint32_t stream;
};

enum end_reason { END_NONE, END_TIMED_OUT, END_STOPPED, END_KILLED };

struct job {
	char id[JOB_ID_LEN + 1];
	struct job *hnext;		/* hash chain */
	struct job *next, *prev;	/* m->active */
	struct job *next_dead;
	struct pipe_src out, err;
	struct logf *log;
	struct client *waiter;		/* RUN client awaiting STARTED */
	bool started, exited, failed, lost, dead;
	enum end_reason reason;
	int pending;			/* stop asked before STARTED: 0, SIGTERM, SIGKILL */
	uint64_t timeout_ms;
	int64_t timeout_at, kill_at, drain_at;	/* monotonic ms, 0: none */
	uint64_t stored, dropped;
	bool truncated;
	uint32_t uid;			/* who asked, for the audit of a failed start */
	uint32_t wstatus;
	uint64_t oom_kills, cpu_usec, memory_peak;
};

/* A message from the helper (helper.c passes everything but READY). */
void job_helper_msg(struct mgr *m, struct wire_msg *msg);

#endif
