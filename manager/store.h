/* corrald's job store: SQLite in WAL mode, one connection, every
 * statement prepared once at open.  See docs/schema.md. */
#ifndef CORRAL_STORE_H
#define CORRAL_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "bounds.h"
#include "err.h"
#include "state.h"
#include "wire.h"

struct store;

struct audit_rec {
	int64_t time_ms;
	uint32_t uid;
	uint32_t pid;		/* 0: unknown */
	const char *action;
	const char *job_id;	/* NULL unless the request resolved a job */
	const char *outcome;	/* "ok", "denied", "error" */
	const char *detail;	/* may be NULL */
};

/* What corrald knows of a job that has not ended, beyond its row: a
 * running job's output so far (STATUS shows these, not the row's), a
 * queued one's place in the start order and what it waits for. */
struct job_live {
	bool output;			/* stored, dropped valid */
	uint64_t stored, dropped;
	uint32_t position;		/* queued: 1 = next; 0: none */
	char waiting[MESSAGE_LEN_MAX];	/* queued: why ("" none) */
};

/* What a job's end leaves in its row. */

struct job_end {
	const char *state;
	int64_t ended_ms;
	bool has_status;	/* EXITED arrived: wstatus and stats valid */
	uint32_t wstatus;
	uint64_t oom_kills, cpu_usec, memory_peak;	/* UINT64_MAX: not measured */
	uint64_t log_bytes, log_dropped, log_size;
};

/* LIST filter and keyset cursor (newest first). */
struct list_query {
	bool by_uid;
	uint32_t uid;
	uint32_t states;		/* 1 << enum job_state; 0 = any */
	char name[NAME_LEN_MAX + 1];	/* "" = any */
	bool started;			/* cursor valid */
	int64_t cur_created;
	char cur_id[JOB_ID_LEN + 1];
	/* Optional: what corrald knows of an unfinished job beyond its row. */
	bool (*live)(void *ctx, const char *id, struct job_live *out);
	void *live_ctx;
};

/* Called per row with a finished JOB or AUDIT_ROW message. */
typedef int (*store_row_fn)(void *ctx, struct wire_out *o, struct cerr *e);

/* path ":memory:" gives a private in-memory store (tests, fuzzing). */
int store_open(struct store **out, const char *path, struct cerr *e);
void store_close(struct store *s);
int store_user_version(struct store *s);

/* Start-up sweep: starting/running -> lost with error why. */
int store_mark_all_lost(struct store *s, const char *why, int64_t now,
			int *count, struct cerr *e);

/* Insert the row of a RUN request (state starting) with the environment
 * the job gets (env, n entries) and its audit row in one transaction. */
int store_insert_run(struct store *s, const char *id, uint32_t uid,
		     const char *user, int64_t now, const struct wire_msg *run,
		     const char *const *env, size_t n, const struct audit_rec *a,
		     struct cerr *e);

/* A new job's row: starting (it starts now), queued, or cancelled at
 * once (cancel_why: its --after-ok job has failed already), with its
 * audit rows, in one transaction; durable unless it starts now. */
struct new_job {
	const char *id;
	uint32_t uid;
	const char *user;
	int64_t now;
	const struct wire_msg *run;
	const char *const *env;		/* the environment the job gets */
	size_t nenv;
	bool queued;
	const char *after_id;		/* NULL: none */
	bool after_ok;
	const char *cancel_why;		/* NULL: not cancelled */
};
int store_insert_job(struct store *s, const struct new_job *nj,
		     const struct audit_rec *a, size_t na, struct cerr *e);

/* The queue's transitions, each with its audit row: queued -> starting
 * (a slot is free), starting -> queued (the helper had no slot after
 * all), queued -> cancelled with why.  ESRCH: the row was not in the
 * state left. */
int store_dequeue(struct store *s, const char *id, const struct audit_rec *a,
		  struct cerr *e);
int store_requeue(struct store *s, const char *id, const struct audit_rec *a,
		  struct cerr *e);
int store_cancel(struct store *s, const char *id, const char *why, int64_t now,
		 const struct audit_rec *a, struct cerr *e);

/* Every queued row, oldest first (start-up). */
struct queued_row {
	char id[JOB_ID_LEN + 1];
	uint32_t uid;
	uint32_t priority;
	char after[JOB_ID_LEN + 1];	/* "" none */
	bool after_ok;
};
typedef int (*store_queued_fn)(void *ctx, const struct queued_row *q,
			       struct cerr *e);
int store_queued(struct store *s, store_queued_fn fn, void *ctx,
		 struct cerr *e);
/* A job's state and exit code (-1: none); ENOENT if there is no row. */
int store_end_of(struct store *s, const char *id,
		 char state[STATE_LEN_MAX + 1], int *exit_code, struct cerr *e);

/* One audit row.  durable=false lets the row ride on the next durable
 * commit (read-only requests; see docs/manager.md). */
int store_audit(struct store *s, const struct audit_rec *a, bool durable,
		struct cerr *e);

/* A job reference: a full id, a unique id prefix (>= 4 characters), or
 * the name of one of name_uid's jobs.  uid sees its own jobs (admins all)
 * by id and prefix. */
struct ref_query {
	const char *ref;
	uint32_t uid;
	bool admin;
	uint32_t name_uid;	/* whose names: uid's own, or (admins) --user's */
	bool unfinished_first;	/* stop, kill: a name means a job still running */
};
int store_resolve(struct store *s, const struct ref_query *q,
		  char id[JOB_ID_LEN + 1], struct cerr *e);
/* Up to max of uid's jobs named name, newest first (only unfinished ones
 * if unfinished). */
int store_by_name(struct store *s, const char *name, uint32_t uid,
		  bool unfinished, char (*ids)[JOB_ID_LEN + 1], int max, int *n,
		  struct cerr *e);

/* A starting or running job's row, for the jobs whose pipes came back
 * from systemd's fd store at a restart (fdstore.c); -1 with ENOENT if
 * there is none. */
struct taken_row {
	uint32_t uid, priority;
	bool running;
	uint64_t timeout_ms;
	int64_t started_ms;
	/* the last stop or kill carried out ("stop", "hangup", "kill"; ""
	 * if none), when (wall ms), and its audit detail */
	char stop_action[8];
	int64_t stop_ms;
	char stop_detail[64];
};
int store_taken(struct store *s, const char *id, struct taken_row *t,
		struct cerr *e);

/* The job's state; -1 with ENOENT if there is no such row. */
int store_state(struct store *s, const char *id,
		char state[STATE_LEN_MAX + 1], struct cerr *e);

/* Build the JOB record of one job; o is initialised here and must be
 * freed by the caller with wire_out_free (also on error).  live, if not
 * NULL, replaces the row's output figures. */
int store_job_msg(struct store *s, const char *id, const struct job_live *live,
		  struct wire_out *o, struct cerr *e);

/* Group commits: committed, but durable only after store_sync, which
 * corrald runs once per loop turn before it tells anyone of them. */
int store_set_running(struct store *s, const char *id, uint32_t pid,
		      int64_t now, struct cerr *e);
/* The same, with a --network job's address and MAC (NULL: none). */
int store_set_running_net(struct store *s, const char *id, uint32_t pid,
			  int64_t now, const char *address, const char *mac,
			  struct cerr *e);
int store_set_failed(struct store *s, const char *id, unsigned stage,
		     int num, const char *error, int64_t now, struct cerr *e);
/* starting/running -> lost; a no-op for a job already ended. */
int store_set_lost(struct store *s, const char *id, const char *error,
		   int64_t now, struct cerr *e);
/* A job found unfinished at start-up: lost, with the log's own figures;
 * last_ms 0: its end is unknown. */
int store_set_lost_found(struct store *s, const char *id, const char *error,
			 int64_t last_ms, uint64_t log_bytes, uint64_t log_size,
			 struct cerr *e);
/* Up to max ids of starting/running jobs, oldest first. */
int store_unfinished(struct store *s, char (*ids)[JOB_ID_LEN + 1], int max,
		     int *n, struct cerr *e);
/* A group commit, as store_set_running. */
int store_set_ended(struct store *s, const char *id, const struct job_end *je,
		    struct cerr *e);
/* Make every group commit so far durable (one WAL sync; nothing to do if
 * none is waiting).  -1: they may be lost, and must be written again. */
int store_sync(struct store *s, struct cerr *e);
int store_set_log(struct store *s, const char *id, uint64_t bytes,
		  uint64_t dropped, uint64_t size, struct cerr *e);

/* Up to max rows after the cursor; advances it.  *n = rows produced. */
int store_list(struct store *s, struct list_query *q, uint32_t max,
	       store_row_fn fn, void *ctx, uint32_t *n, struct cerr *e);
struct audit_query {
	int64_t before;			/* rows with id below; 0: from the newest */
	bool by_uid;
	uint32_t uid;
	char action[33];		/* "" = any */
	uint64_t since_ms;
};

/* Audit rows matching q, newest first; q->before moves on. */
int store_audit_list(struct store *s, struct audit_query *q, uint32_t max,
		     store_row_fn fn, void *ctx, uint32_t *n, struct cerr *e);

/* --- retention (retention.c) ---------------------------------------- */

struct store_pick {
	char id[JOB_ID_LEN + 1];
	uint64_t size;		/* its log's bytes */
};
struct store_user {
	uint32_t uid;
	uint64_t bytes;
};

/* Finished jobs, oldest end first, at most max: whose logs ended before
 * a cutoff (and are still there), every kept log, one user's kept logs,
 * whose rows ended before a cutoff. */
int store_pick_old_logs(struct store *s, int64_t before, uint32_t max,
			struct store_pick *out, uint32_t *n, struct cerr *e);
int store_pick_oldest_logs(struct store *s, uint32_t max,
			   struct store_pick *out, uint32_t *n, struct cerr *e);
int store_pick_user_logs(struct store *s, uint32_t uid, uint32_t max,
			 struct store_pick *out, uint32_t *n, struct cerr *e);
int store_pick_old_jobs(struct store *s, int64_t before, uint32_t max,
			struct store_pick *out, uint32_t *n, struct cerr *e);
/* Bytes of every finished job's kept log. */
int store_log_total(struct store *s, uint64_t *bytes, struct cerr *e);
/* Users whose finished jobs keep more than quota bytes of logs. */
int store_users_over(struct store *s, uint64_t quota, uint32_t max,
		     struct store_user *out, uint32_t *n, struct cerr *e);
int store_log_deleted(struct store *s, const char *id, int64_t now,
		      struct cerr *e);
/* Delete a finished job's row (EBUSY if it is not finished). */
int store_delete_job(struct store *s, const char *id, struct cerr *e);
/* Delete up to max audit rows older than before; *n deleted. */
int store_prune_audit(struct store *s, int64_t before, uint32_t max,
		      uint32_t *n, struct cerr *e);
/* How many (at most max) audit rows are older than before. */
int store_count_old_audit(struct store *s, int64_t before, uint32_t max,
			  uint32_t *n, struct cerr *e);
/* Whether a job has ended, and when its log was deleted (0: it was not). */
int store_finished(struct store *s, const char *id, bool *finished,
		   int64_t *log_deleted_ms, struct cerr *e);

#endif
