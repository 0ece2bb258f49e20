#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "cleanup.h"
#include "parse.h"
#include "proto.h"
#include "schema.h"

/* How a column maps to a field of the JOB record (and of RUN).  K_STAGE
 * is a stage's name in the store and its number on the wire. */
enum kind { K_TEXT, K_U32, K_U64, K_STRV, K_IOV, K_STAGE };

struct col {
	const char *name;
	uint16_t field;
	uint8_t kind;
	bool from_run;	/* copied from the RUN request at insert */
};

static const struct col job_cols[] = {
	{ "id", F_JOB_ID, K_TEXT, false },
	{ "uid", F_UID, K_U32, false },
	{ "user", F_USER, K_TEXT, false },
	{ "state", F_STATE, K_TEXT, false },
	{ "created_ms", F_CREATED_MS, K_U64, false },
	{ "argv", F_ARGV, K_STRV, true },
	{ "env", F_ENV, K_STRV, true },
	{ "cwd", F_CWD, K_TEXT, true },
	{ "io_limit", F_IO_LIMIT, K_IOV, true },
	{ "ns_off", F_NS_OFF, K_U32, true },
	/* one column per run option, named as the option */
#define K_OF_SIZE K_U64
#define K_OF_CPUS K_U64
#define K_OF_COUNT K_U64
#define K_OF_DURATION K_U64
#define K_OF_FLAG K_U64
#define K_OF_OCTAL K_U64
#define K_OF_CPUSET K_TEXT
#define K_OF_NAME K_TEXT
#define K_OF_PATH K_TEXT
#define K_OF_NETREF K_TEXT
#define OPT(ID, field, name, type, ...) { name, F_##ID, K_OF_##type, true },
#include "runopt.def"
#undef OPT
	{ "pid", F_PID, K_U32, false },
	{ "started_ms", F_STARTED_MS, K_U64, false },
	{ "ended_ms", F_ENDED_MS, K_U64, false },
	{ "exit_code", F_EXIT_CODE, K_U32, false },
	{ "signal", F_SIGNAL, K_U32, false },
	{ "wstatus", F_WSTATUS, K_U32, false },
	{ "oom_kills", F_OOM_KILLS, K_U64, false },
	{ "cpu_usec", F_CPU_USEC, K_U64, false },
	{ "memory_peak", F_MEMORY_PEAK, K_U64, false },
	{ "error", F_ERROR, K_TEXT, false },
	{ "stage", F_STAGE, K_STAGE, false },
	{ "errno", F_ERRNO, K_U32, false },
	{ "log_bytes", F_LOG_BYTES, K_U64, false },
	{ "log_dropped", F_LOG_DROPPED, K_U64, false },
	{ "log_deleted_ms", F_LOG_DELETED_MS, K_U64, false },
	{ "after_id", F_AFTER, K_TEXT, false },
	{ "after_ok", F_AFTER_OK, K_U32, false },
	{ "net_address", F_NET_ADDRESS, K_TEXT, false },
	{ "net_mac", F_NET_MAC, K_TEXT, false },
};
#define NCOLS ARRAY_SIZE(job_cols)
#define FIRST_RUN_COL 5	/* job_cols[5..] with from_run come from RUN */

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SYNC_FULL, ST_SYNC_NORMAL,
	ST_AUDIT, ST_LOST_ALL, ST_BY_ID, ST_BY_PREFIX, ST_BY_NAME,
	ST_RUNNING, ST_FAILED, ST_LOST, ST_LOST_FOUND, ST_UNFINISHED,
	ST_ENDED, ST_LOG, ST_AUDIT_LIST,
	ST_OLD_LOGS, ST_LOG_TOTAL, ST_OLDEST_LOGS, ST_USERS_OVER,
	ST_USER_OLDEST_LOGS, ST_OLD_JOBS, ST_LOG_DELETED, ST_DELETE_JOB,
	ST_OLD_AUDIT, ST_COUNT_OLD_AUDIT, ST_FINISHED,
	ST_DEQUEUE, ST_REQUEUE, ST_CANCEL, ST_QUEUED, ST_END_OF, ST_TAKEN,
	ST_SELECT, ST_INSERT, ST_LIST, ST_LIST_UID,
	ST_COUNT
};

static const char *const fixed_sql[] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[ST_AUDIT] = "INSERT INTO audit (time_ms, uid, pid, action, job_id, "
		     "outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_LOST_ALL] = "UPDATE jobs SET state = 'lost', error = ?1, "
			"ended_ms = ?2 WHERE state IN ('starting', 'running')",
	[ST_BY_ID] = "SELECT id, uid FROM jobs WHERE id = ?1",
	/* Ids are lower-case hex and '-', so [prefix, prefix+1) is exactly
	 * the ids starting with prefix, and the primary key serves it. */
	[ST_BY_PREFIX] = "SELECT id FROM jobs WHERE id >= ?1 AND id < ?2 "
			 "AND (?3 < 0 OR uid = ?3) ORDER BY id LIMIT 2",
	/* Names are one user's: ?2 is whose.  ?3: only unfinished jobs. */
	[ST_BY_NAME] = "SELECT id FROM jobs WHERE name = ?1 AND uid = ?2 "
		       "AND (?3 = 0 OR state IN ('queued', 'starting', 'running')) "
		       "ORDER BY created_ms DESC, id DESC LIMIT ?4",
	[ST_RUNNING] = "UPDATE jobs SET state = 'running', pid = ?2, "
		       "started_ms = ?3, net_address = ?4, net_mac = ?5 "
		       "WHERE id = ?1 AND state = 'starting'",
	/* Each transition names the states it leaves: an ended row is never
	 * rewritten, whoever asks (a second corrald, a late event). */
	[ST_FAILED] = "UPDATE jobs SET state = 'failed', stage = ?2, "
		      "error = ?3, ended_ms = ?4, errno = ?5 "
		      "WHERE id = ?1 AND state = 'starting'",
	/* A job found unfinished at start-up: its log says how much it
	 * wrote and when last; NULL ended_ms is an end nobody saw. */
	[ST_LOST_FOUND] = "UPDATE jobs SET state = 'lost', error = ?2, "
			  "ended_ms = ?3, log_bytes = ?4, log_size = ?5 "
			  "WHERE id = ?1 AND state IN ('starting', 'running')",
	[ST_UNFINISHED] = "SELECT id FROM jobs WHERE state IN ('starting', 'running') "
			  "ORDER BY created_ms LIMIT ?1",
	[ST_LOST] = "UPDATE jobs SET state = 'lost', error = ?2, ended_ms = ?3 "
		    "WHERE id = ?1 AND state IN ('starting', 'running')",
	[ST_ENDED] = "UPDATE jobs SET state = ?2, ended_ms = ?3, "
		     "exit_code = ?4, signal = ?5, wstatus = ?6, "
		     "oom_kills = ?7, cpu_usec = ?8, memory_peak = ?9, "
		     "log_bytes = ?10, log_dropped = ?11, log_size = ?12 "
		     "WHERE id = ?1 AND state IN ('starting', 'running')",
	[ST_LOG] = "UPDATE jobs SET log_bytes = ?2, log_dropped = ?3, log_size = ?4 "
		   "WHERE id = ?1",
	/* Retention (retention.c).  A finished job's end is its ended_ms,
	 * or its creation when its end is unknown; every query walks the
	 * jobs_finished index in that order.  ?1 is a cutoff or a quota. */
#define FINISHED "state NOT IN ('queued', 'starting', 'running')"
#define END_AT "COALESCE(ended_ms, created_ms)"
	[ST_OLD_LOGS] = "SELECT id, log_size FROM jobs WHERE " FINISHED " AND "
			END_AT " < ?1 AND log_deleted_ms IS NULL "
			"ORDER BY " END_AT " LIMIT ?2",
	[ST_LOG_TOTAL] = "SELECT COALESCE(SUM(log_size), 0) FROM jobs WHERE "
			 FINISHED " AND log_deleted_ms IS NULL",
	[ST_OLDEST_LOGS] = "SELECT id, log_size FROM jobs WHERE " FINISHED
			   " AND log_deleted_ms IS NULL AND log_size > 0 "
			   "ORDER BY " END_AT " LIMIT ?2",
	[ST_USERS_OVER] = "SELECT uid, SUM(log_size) FROM jobs WHERE " FINISHED
			  " AND log_deleted_ms IS NULL GROUP BY uid "
			  "HAVING SUM(log_size) > ?1 LIMIT ?2",
	[ST_USER_OLDEST_LOGS] = "SELECT id, log_size FROM jobs WHERE " FINISHED
				" AND uid = ?1 AND log_deleted_ms IS NULL AND log_size > 0 "
				"ORDER BY " END_AT " LIMIT ?2",
	[ST_OLD_JOBS] = "SELECT id, log_size FROM jobs WHERE " FINISHED " AND "
			END_AT " < ?1 ORDER BY " END_AT " LIMIT ?2",
	[ST_LOG_DELETED] = "UPDATE jobs SET log_deleted_ms = ?2 WHERE id = ?1",
	[ST_DELETE_JOB] = "DELETE FROM jobs WHERE id = ?1 AND " FINISHED,
	[ST_OLD_AUDIT] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit "
			 "WHERE time_ms < ?1 ORDER BY id LIMIT ?2)",
	[ST_COUNT_OLD_AUDIT] = "SELECT count(*) FROM (SELECT id FROM audit "
			       "WHERE time_ms < ?1 LIMIT ?2)",
	[ST_FINISHED] = "SELECT " FINISHED ", COALESCE(log_deleted_ms, 0) "
			"FROM jobs WHERE id = ?1",
	/* The queue (queue.c): a queued job leaves for a slot, comes back
	 * when the helper had none after all, or is cancelled. */
	[ST_DEQUEUE] = "UPDATE jobs SET state = 'starting' "
		       "WHERE id = ?1 AND state = 'queued'",
	[ST_REQUEUE] = "UPDATE jobs SET state = 'queued', pid = NULL, "
		       "started_ms = NULL WHERE id = ?1 AND state = 'starting'",
	[ST_CANCEL] = "UPDATE jobs SET state = 'cancelled', error = ?2, "
		      "ended_ms = ?3 WHERE id = ?1 AND state = 'queued'",
	[ST_QUEUED] = "SELECT id, uid, COALESCE(priority, 0), after_id, "
		      "COALESCE(after_ok, 0) FROM jobs WHERE state = 'queued' "
		      "ORDER BY created_ms, id",
	[ST_END_OF] = "SELECT state, exit_code FROM jobs WHERE id = ?1",
	/* With the job's last stop or kill that was carried out, if any:
	 * a kill before a stop, then the newest ("kill" with a signal= is
	 * a signal, not a kill). */
	[ST_TAKEN] = "SELECT uid, state = 'running', COALESCE(timeout_ms, 0), "
		     "COALESCE(started_ms, 0), COALESCE(priority, 0), a.action, "
		     "COALESCE(a.time_ms, 0), a.detail FROM jobs LEFT JOIN "
		     "(SELECT action, time_ms, detail FROM audit WHERE job_id = ?1 "
		     "AND outcome = 'ok' AND (action IN ('stop', 'hangup') OR "
		     "(action = 'kill' AND COALESCE(detail, '') NOT LIKE 'signal=%')) "
		     "ORDER BY action = 'kill' DESC, id DESC LIMIT 1) a "
		     "WHERE id = ?1 AND state IN ('starting', 'running')",
#undef FINISHED
#undef END_AT
	/* ?3 uid (-1: any), ?4 action (NULL: any), ?5 since. */
	[ST_AUDIT_LIST] = "SELECT time_ms, uid, pid, action, job_id, outcome, "
			  "detail, id FROM audit WHERE id < ?1 "
			  "AND (?3 < 0 OR uid = ?3) AND (?4 IS NULL OR action = ?4) "
			  "AND time_ms >= ?5 ORDER BY id DESC LIMIT ?2",
};

/* LIST, of everyone's jobs or one user's (its own index): ?1 uid, ?2
 * the states wanted as " exited failed " (NULL: any), ?6 name (NULL:
 * any), (?3, ?4) cursor, ?5 limit. */
static const char *const list_where[] = {
	[ST_LIST - ST_LIST] = "",
	[ST_LIST_UID - ST_LIST] = "uid = ?1 AND ",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	bool sync_full;
	bool wal;		/* journal_mode = WAL: there is a log to sync */
	bool unsynced;		/* a group commit waits for store_sync */
};

/* The one way a store failure is told: what was being done and what
 * SQLite said, and for the failures people must act on, what to do. */
static int db_err(struct store *s, struct cerr *e, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db) & 0xff;
	int num = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? EBUSY
		: rc == SQLITE_FULL ? ENOSPC
		: rc == SQLITE_CONSTRAINT ? EEXIST : EIO;

	/* TOOBIG too: every value corrald stores is bounded far below
	 * SQLite's length limit, so only a damaged record claims more. */
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_TOOBIG)
		return cerr_set(e, EIO, "job store is damaged (%s: %s); restore it from a backup or move it away",
				what, sqlite3_errmsg(s->db));
	if (rc == SQLITE_FULL)
		return cerr_set(e, ENOSPC, "job store: %s: the state directory's disk is full",
				what);
	return cerr_set(e, num, "job store: %s: %s", what,
			sqlite3_errmsg(s->db));
}

/* Run a statement that returns no rows; reset it either way. */
static int step_done(struct store *s, enum stmt_id id, const char *what,
		     struct cerr *e)
{
	sqlite3_stmt *st = s->st[id];
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_err(s, e, what);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

static int exec_sql(struct store *s, const char *sql, const char *what,
		    struct cerr *e)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		return db_err(s, e, what);
	}
	return 0;
}

/* SQLite integers are signed.  Every U64 field's bound is WIRE_U63_MAX
 * (proto.c) and corrald's own counters stay far below it. */
static sqlite3_int64 i64(uint64_t v)
{
	return (sqlite3_int64)v;
}

/* UINT64_MAX: not measured (job.h's STAT_NONE), NULL in the store. */
static void bind_stat(sqlite3_stmt *st, int i, uint64_t v)
{
	if (v == UINT64_MAX)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, i64(v));
}

static int set_sync(struct store *s, bool full, struct cerr *e)
{
	if (s->sync_full == full)
		return 0;
	if (step_done(s, full ? ST_SYNC_FULL : ST_SYNC_NORMAL, "synchronous",
		      e) < 0)
		return -1;
	s->sync_full = full;
	return 0;
}

static int begin_sync(struct store *s, bool full, struct cerr *e)
{
	if (set_sync(s, full, e) < 0)
		return -1;
	return step_done(s, ST_BEGIN, "begin", e);
}


static int commit(struct store *s, struct cerr *e)
{
	if (step_done(s, ST_COMMIT, "commit", e) < 0) {
		struct cerr ignore;
		step_done(s, ST_ROLLBACK, "rollback", &ignore);
		return -1;
	}
	return 0;
}

static void rollback(struct store *s)
{
	struct cerr ignore;

	step_done(s, ST_ROLLBACK, "rollback", &ignore);
}

/* --- open and migrate ------------------------------------------------ */

static int user_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL))
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_user_version(struct store *s)
{
	return user_version(s);
}

/* Rows that break a foreign key after a migration: 0 if none. */
static int fk_violations(struct store *s, struct cerr *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st, NULL))
		return db_err(s, e, "foreign key check");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return cerr_set(e, EPROTO, "rows break a foreign key");
	return rc == SQLITE_DONE ? 0 : db_err(s, e, "foreign key check");
}

/* Foreign keys are off while a migration runs (they cannot change inside
 * a transaction), so one may make a table anew, as SQLite's manual says
 * to change a CHECK; they are checked before the commit. */
static int apply_migration(struct store *s, const struct migration *m,
			   struct cerr *e)
{
	char pragma[64];
	int rc;

	if (exec_sql(s, "PRAGMA foreign_keys = OFF", "foreign keys", e) < 0 ||
	    exec_sql(s, "BEGIN IMMEDIATE", "begin migration", e) < 0)
		return -1;
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u",
		 m->version);
	rc = exec_sql(s, m->sql, m->name, e) < 0 ||
	     exec_sql(s, pragma, m->name, e) < 0 || fk_violations(s, e) < 0 ||
	     exec_sql(s, "COMMIT", "commit migration", e) < 0;
	if (rc)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (exec_sql(s, "PRAGMA foreign_keys = ON", "foreign keys", rc ? &(struct cerr){ 0 } : e) < 0 && !rc)
		return -1;
	return rc ? cerr_wrap(e, "migration %s", m->name) : 0;
}

static int migrate(struct store *s, struct cerr *e)
{
	int v = user_version(s);

	if (v < 0)
		return db_err(s, e, "read user_version");
	if ((unsigned)v > nmigrations)
		return cerr_set(e, EPROTO,
				"job store: schema version %d is newer than this corrald (%u)",
				v, nmigrations);
	for (unsigned i = (unsigned)v; i < nmigrations; i++)
		if (apply_migration(s, &migrations[i], e) < 0)
			return -1;
	return 0;
}

static char *build_select(void)
{
	size_t cap = 64;
	char *q;

	for (size_t i = 0; i < NCOLS; i++)
		cap += strlen(job_cols[i].name) + 2;
	q = malloc(cap);
	if (!q)
		return NULL;
	strcpy(q, "SELECT ");
	for (size_t i = 0; i < NCOLS; i++) {
		strcat(q, job_cols[i].name);
		strcat(q, i + 1 < NCOLS ? ", " : " ");
	}
	strcat(q, "FROM jobs ");
	return q;
}

static int prepare(struct store *s, enum stmt_id id, const char *sql,
		   struct cerr *e)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &s->st[id], NULL) != SQLITE_OK)
		return db_err(s, e, sql);
	return 0;
}

static int prepare_insert(struct store *s, struct cerr *e)
{
	char cols[1024] = "INSERT INTO jobs (id, uid, user, created_ms, state, "
			  "after_id, after_ok";
	char vals[256] = ") VALUES (?, ?, ?, ?, ?, ?, ?";

	for (size_t i = FIRST_RUN_COL; i < NCOLS; i++) {
		if (!job_cols[i].from_run)
			continue;
		strcat(cols, ", ");
		strcat(cols, job_cols[i].name);
		strcat(vals, ", ?");
	}
	strcat(cols, vals);
	strcat(cols, ")");
	return prepare(s, ST_INSERT, cols, e);
}

static int prepare_all(struct store *s, struct cerr *e)
{
	_cleanup_free_ char *sel = build_select();
	char buf[2048];

	if (!sel)
		return cerr_sys(e, "job store");
	for (int i = 0; i < ST_SELECT; i++)
		if (prepare(s, i, fixed_sql[i], e) < 0)
			return -1;
	snprintf(buf, sizeof buf, "%sWHERE id = ?1", sel);
	if (prepare(s, ST_SELECT, buf, e) < 0 || prepare_insert(s, e) < 0)
		return -1;
	for (int i = ST_LIST; i <= ST_LIST_UID; i++) {
		snprintf(buf, sizeof buf,
			 "%sWHERE %s(?2 IS NULL OR instr(?2, ' ' || state || ' ')) "
			 "AND (?6 IS NULL OR name = ?6) AND (created_ms, id) < (?3, ?4) "
			 "ORDER BY created_ms DESC, id DESC LIMIT ?5",
			 sel, list_where[i - ST_LIST]);
		if (prepare(s, i, buf, e) < 0)
			return -1;
	}
	return 0;
}

/* A damaged store is refused at once, naming what to do, rather than
 * failing request by request later.  quick_check reads every page once
 * (no index cross-check): about a second per gigabyte. */
static int check_whole(struct store *s, struct cerr *e)
{
	sqlite3_stmt *st;
	char first[256] = "";
	int rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		return cerr_set(e, EIO, "job store is damaged (%s); restore it from a backup or move it away",
				sqlite3_errmsg(s->db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(first, sizeof first, "%s", (const char *)sqlite3_column_text(st, 0));
	else
		snprintf(first, sizeof first, "%s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (strcmp(first, "ok"))
		return cerr_set(e, EIO, "job store is damaged (%s); restore it from a backup or move it away",
				first);
	return 0;
}

static int configure(struct store *s, const char *path, struct cerr *e)
{
	sqlite3_busy_timeout(s->db, 5000);
	if (strcmp(path, ":memory:") &&
	    exec_sql(s, "PRAGMA journal_mode = WAL", "WAL mode", e) < 0)
		return -1;
	s->wal = strcmp(path, ":memory:") != 0;
	if (exec_sql(s, "PRAGMA foreign_keys = ON", "foreign keys", e) < 0 ||
	    exec_sql(s, "PRAGMA synchronous = FULL", "synchronous", e) < 0)
		return -1;
	s->sync_full = true;
	return 0;
}

int store_open(struct store **out, const char *path, struct cerr *e)
{
	struct store *s = calloc(1, sizeof *s);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX;

	if (!s)
		return cerr_sys(e, "job store");
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		cerr_set(e, EIO, "job store %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (configure(s, path, e) < 0 || check_whole(s, e) < 0 || migrate(s, e) < 0 ||
	    prepare_all(s, e) < 0) {
		cerr_wrap(e, "%s", path);
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

/* --- writes ---------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int audit_row(struct store *s, const struct audit_rec *a,
		     struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_AUDIT];

	sqlite3_bind_int64(st, 1, a->time_ms);
	sqlite3_bind_int64(st, 2, a->uid);
	if (a->pid)
		sqlite3_bind_int64(st, 3, a->pid);
	bind_text(st, 4, a->action);
	bind_text(st, 5, a->job_id);
	bind_text(st, 6, a->outcome);
	bind_text(st, 7, a->detail);
	return step_done(s, ST_AUDIT, "audit insert", e);
}

int store_audit(struct store *s, const struct audit_rec *a, bool durable,
		struct cerr *e)
{
	if (set_sync(s, durable, e) < 0)
		return -1;
	return audit_row(s, a, e);
}

/* argv/env as a blob of NUL-terminated strings. */
static int bind_strv(sqlite3_stmt *st, int i, const struct wire_msg *m,
		     uint16_t id)
{
	size_t n = 0, k = 0;
	const struct wire_val *v;
	char *blob;

	for (size_t j = 0; (v = wire_nth(m, id, j)); j++)
		n += v->len + 1;
	if (!n)
		return sqlite3_bind_null(st, i);
	blob = malloc(n);
	if (!blob)
		return SQLITE_NOMEM;
	for (size_t j = 0; (v = wire_nth(m, id, j)); j++) {
		memcpy(blob + k, v->p, v->len + 1);
		k += v->len + 1;
	}
	return sqlite3_bind_blob(st, i, blob, (int)n, free);
}

static int bind_iov(sqlite3_stmt *st, int i, const struct wire_msg *m)
{
	size_t n = wire_count(m, F_IO_LIMIT);
	const struct wire_val *v;
	uint8_t *blob;

	if (!n)
		return sqlite3_bind_null(st, i);
	blob = malloc(n * IO_LIMIT_LEN);
	if (!blob)
		return SQLITE_NOMEM;
	for (size_t j = 0; (v = wire_nth(m, F_IO_LIMIT, j)); j++)
		memcpy(blob + j * IO_LIMIT_LEN, v->p, IO_LIMIT_LEN);
	return sqlite3_bind_blob(st, i, blob, (int)(n * IO_LIMIT_LEN), free);
}

/* The composed environment as a blob of NUL-terminated strings. */
static int bind_env(sqlite3_stmt *st, int i, const char *const *env, size_t n)
{
	size_t len = 0, k = 0;
	char *blob;

	for (size_t j = 0; j < n; j++)
		len += strlen(env[j]) + 1;
	if (!len)
		return sqlite3_bind_null(st, i);
	blob = malloc(len);
	if (!blob)
		return SQLITE_NOMEM;
	for (size_t j = 0; j < n; j++) {
		memcpy(blob + k, env[j], strlen(env[j]) + 1);
		k += strlen(env[j]) + 1;
	}
	return sqlite3_bind_blob(st, i, blob, (int)len, free);
}

static int bind_run_col(sqlite3_stmt *st, int i, const struct col *c,
			const struct wire_msg *m)
{
	const struct wire_val *v = wire_nth(m, c->field, 0);

	switch (c->kind) {
	case K_STRV:
		return bind_strv(st, i, m, c->field);
	case K_IOV:
		return bind_iov(st, i, m);
	case K_TEXT:
		return v ? sqlite3_bind_text(st, i, (const char *)v->p,
					     (int)v->len, SQLITE_TRANSIENT)
			 : sqlite3_bind_null(st, i);
	default:
		if (c->field == F_NS_OFF && !v)
			return sqlite3_bind_int64(st, i, 0);
		return v ? sqlite3_bind_int64(st, i, i64(v->u))
			 : sqlite3_bind_null(st, i);
	}
}

static int insert_job(struct store *s, const struct new_job *nj, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_INSERT];
	int i = 8, rc;

	sqlite3_bind_text(st, 1, nj->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, nj->uid);
	bind_text(st, 3, nj->user);
	sqlite3_bind_int64(st, 4, nj->now);
	bind_text(st, 5, nj->queued || nj->cancel_why ? "queued" : "starting");
	bind_text(st, 6, nj->after_id);
	if (nj->after_id)
		sqlite3_bind_int64(st, 7, nj->after_ok);
	for (size_t c = FIRST_RUN_COL; c < NCOLS; c++) {
		if (!job_cols[c].from_run)
			continue;
		rc = job_cols[c].field == F_ENV
			? bind_env(st, i++, nj->env, nj->nenv)
			: bind_run_col(st, i++, &job_cols[c], nj->run);
		if (rc != SQLITE_OK) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return db_err(s, e, "bind job");
		}
	}
	return step_done(s, ST_INSERT, "job insert", e);
}

static int cancel_row(struct store *s, const char *id, const char *why,
		      int64_t now, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_CANCEL];

	bind_text(st, 1, id);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, now);
	if (step_done(s, ST_CANCEL, "cancel", e) < 0)
		return -1;
	return sqlite3_changes(s->db) ? 0 : cerr_set(e, ESRCH, "job %s is not queued", id);
}

int store_insert_job(struct store *s, const struct new_job *nj,
		     const struct audit_rec *a, size_t na, struct cerr *e)
{
	/* A job that starts now is not acknowledged to anyone yet: the
	 * commit that marks it running (or failed) is synced before any
	 * reply (store_sync, or a durable commit), and a WAL sync makes
	 * every earlier commit durable with it.  A queued (or cancelled) one is answered at once,
	 * so its row is durable first. */
	if (begin_sync(s, nj->queued || nj->cancel_why, e) < 0)
		return -1;
	if (insert_job(s, nj, e) < 0 ||
	    (nj->cancel_why && cancel_row(s, nj->id, nj->cancel_why, nj->now, e) < 0))
		goto fail;
	for (size_t i = 0; i < na; i++)
		if (audit_row(s, &a[i], e) < 0)
			goto fail;
	return commit(s, e);
fail:
	rollback(s);
	return -1;
}

int store_insert_run(struct store *s, const char *id, uint32_t uid,
		     const char *user, int64_t now, const struct wire_msg *run,
		     const char *const *env, size_t n, const struct audit_rec *a,
		     struct cerr *e)
{
	struct new_job nj = { .id = id, .uid = uid, .user = user, .now = now,
			      .run = run, .env = env, .nenv = n };

	return store_insert_job(s, &nj, a, 1, e);
}

/* One transition of a queued job and its audit row, in one transaction:
 * -1 with ESRCH if the row was not in the state it leaves. */
static int transition(struct store *s, enum stmt_id id, const char *job,
		      const struct audit_rec *a, bool durable, struct cerr *e)
{
	if (begin_sync(s, durable, e) < 0)
		return -1;
	bind_text(s->st[id], 1, job);
	if (step_done(s, id, "queue", e) < 0)
		goto fail;
	if (!sqlite3_changes(s->db)) {
		cerr_set(e, ESRCH, "job %s is not %s", job,
			 id == ST_REQUEUE ? "starting" : "queued");
		goto fail;
	}
	if (audit_row(s, a, e) < 0)
		goto fail;
	return commit(s, e);
fail:
	rollback(s);
	return -1;
}

int store_dequeue(struct store *s, const char *id, const struct audit_rec *a,
		  struct cerr *e)
{
	/* Not acknowledged to anyone: the running commit makes it durable. */
	return transition(s, ST_DEQUEUE, id, a, false, e);
}

int store_requeue(struct store *s, const char *id, const struct audit_rec *a,
		  struct cerr *e)
{
	return transition(s, ST_REQUEUE, id, a, true, e);
}

int store_cancel(struct store *s, const char *id, const char *why, int64_t now,
		 const struct audit_rec *a, struct cerr *e)
{
	if (begin_sync(s, true, e) < 0)
		return -1;
	if (cancel_row(s, id, why, now, e) < 0 || audit_row(s, a, e) < 0) {
		rollback(s);
		return -1;
	}
	return commit(s, e);
}

/* One durable single-statement update; returns rows changed. */
static int update(struct store *s, enum stmt_id id, const char *what,
		  struct cerr *e)
{
	if (set_sync(s, true, e) < 0 || step_done(s, id, what, e) < 0)
		return -1;
	return sqlite3_changes(s->db);
}

/* The same, committed without a sync of its own (a group commit): the
 * caller tells no one of it before store_sync.  Without a log file (an
 * in-memory store) nothing could be made durable anyway. */
static int update_group(struct store *s, enum stmt_id id, const char *what,
			struct cerr *e)
{
	if (set_sync(s, false, e) < 0 || step_done(s, id, what, e) < 0)
		return -1;
	s->unsynced = s->wal;
	return sqlite3_changes(s->db);
}

/* One sync of the write-ahead log for every group commit since the last:
 * what SQLite's synchronous=FULL does at each commit (an xSync of the
 * WAL file, through SQLite's own handle of it), done once per turn of
 * corrald's loop.  After a failure the flag stays: the data those
 * commits wrote may not be on the disk, and a later sync cannot tell, so
 * the caller writes them again (docs/manager.md, group commit). */
int store_sync(struct store *s, struct cerr *e)
{
	sqlite3_file *f = NULL;
	int rc;

	if (!s->unsynced)
		return 0;
	rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
	if (rc != SQLITE_OK || !f || !f->pMethods)
		return cerr_set(e, EIO, "job store: no write-ahead log to sync");
	rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	if (rc != SQLITE_OK)
		return cerr_set(e, rc == SQLITE_FULL ? ENOSPC : EIO,
				"job store: sync of the write-ahead log: %s",
				sqlite3_errstr(rc));
	s->unsynced = false;
	return 0;
}

int store_mark_all_lost(struct store *s, const char *why, int64_t now,
			int *count, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOST_ALL];
	int n;

	bind_text(st, 1, why);
	sqlite3_bind_int64(st, 2, now);
	n = update(s, ST_LOST_ALL, "mark lost", e);
	if (n < 0)
		return -1;
	if (count)
		*count = n;
	return 0;
}

int store_set_running(struct store *s, const char *id, uint32_t pid,
		      int64_t now, struct cerr *e)
{
	return store_set_running_net(s, id, pid, now, NULL, NULL, e);
}

int store_set_running_net(struct store *s, const char *id, uint32_t pid,
			  int64_t now, const char *address, const char *mac,
			  struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_RUNNING];

	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, pid);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, address);
	bind_text(st, 5, mac);
	return update_group(s, ST_RUNNING, "set running", e) < 0 ? -1 : 0;
}

int store_set_failed(struct store *s, const char *id, unsigned stage,
		     int num, const char *error, int64_t now, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_FAILED];

	bind_text(st, 1, id);
	bind_text(st, 2, stage_name(stage));
	bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, num);
	return update(s, ST_FAILED, "set failed", e) < 0 ? -1 : 0;
}

int store_set_lost(struct store *s, const char *id, const char *error,
		   int64_t now, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOST];

	bind_text(st, 1, id);
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now);
	return update(s, ST_LOST, "set lost", e) < 0 ? -1 : 0;
}

int store_set_lost_found(struct store *s, const char *id, const char *error,
			 int64_t last_ms, uint64_t log_bytes, uint64_t log_size,
			 struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOST_FOUND];

	bind_text(st, 1, id);
	bind_text(st, 2, error);
	if (last_ms > 0)
		sqlite3_bind_int64(st, 3, last_ms);
	sqlite3_bind_int64(st, 4, i64(log_bytes));
	sqlite3_bind_int64(st, 5, i64(log_size));
	return update(s, ST_LOST_FOUND, "set lost", e) < 0 ? -1 : 0;
}


int store_set_ended(struct store *s, const char *id, const struct job_end *je,
		    struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENDED];
	uint32_t w = je->wstatus;

	bind_text(st, 1, id);
	bind_text(st, 2, je->state);
	sqlite3_bind_int64(st, 3, je->ended_ms);
	if (je->has_status) {
		if (WIFEXITED(w))
			sqlite3_bind_int64(st, 4, WEXITSTATUS(w));
		else if (WIFSIGNALED(w))
			sqlite3_bind_int64(st, 5, WTERMSIG(w));
		sqlite3_bind_int64(st, 6, w);
		bind_stat(st, 7, je->oom_kills);
		sqlite3_bind_int64(st, 8, i64(je->cpu_usec));
		bind_stat(st, 9, je->memory_peak);
	}
	sqlite3_bind_int64(st, 10, i64(je->log_bytes));
	sqlite3_bind_int64(st, 11, i64(je->log_dropped));
	sqlite3_bind_int64(st, 12, i64(je->log_size));
	return update_group(s, ST_ENDED, "set ended", e) < 0 ? -1 : 0;
}

int store_set_log(struct store *s, const char *id, uint64_t bytes,
		  uint64_t dropped, uint64_t size, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOG];

	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, i64(bytes));
	sqlite3_bind_int64(st, 3, i64(dropped));
	sqlite3_bind_int64(st, 4, i64(size));
	return update(s, ST_LOG, "set log size", e) < 0 ? -1 : 0;
}

/* --- reads ----------------------------------------------------------- */

/* Step a query statement: 1 row, 0 done, -1 error (statement reset). */
static int step_row(struct store *s, sqlite3_stmt *st, const char *what,
		    struct cerr *e)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		db_err(s, e, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static bool prefix_ref(const char *ref)
{
	size_t n = strlen(ref);

	if (n < REF_PREFIX_MIN || n >= JOB_ID_LEN)
		return false;
	return strspn(ref, "0123456789abcdef-") == n;
}

static int resolve_id(struct store *s, const char *ref, bool admin,
		      uint32_t uid, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_BY_ID];
	int r;

	bind_text(st, 1, ref);
	r = step_row(s, st, "look up job", e);
	if (r <= 0)
		return r;
	if (admin || (uint32_t)sqlite3_column_int64(st, 1) == uid) {
		copy_col(st, 0, id, JOB_ID_LEN + 1);
		r = 1;
	} else {
		r = 0;	/* another user's job: "no such job", no leak */
	}
	finish(st);
	return r;
}

static int resolve_prefix(struct store *s, const char *ref, bool admin,
			  uint32_t uid, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_BY_PREFIX];
	char hi[JOB_ID_LEN + 1], other[JOB_ID_LEN + 1];
	size_t n = strlen(ref);
	int r;

	memcpy(hi, ref, n + 1);
	hi[n - 1]++;
	bind_text(st, 1, ref);
	bind_text(st, 2, hi);
	sqlite3_bind_int64(st, 3, admin ? -1 : (sqlite3_int64)uid);
	r = step_row(s, st, "look up job prefix", e);
	if (r <= 0)
		return r;
	copy_col(st, 0, id, JOB_ID_LEN + 1);
	r = step_row(s, st, "look up job prefix", e);
	if (r < 0)
		return -1;
	if (r == 0)
		return 1;
	copy_col(st, 0, other, sizeof other);
	finish(st);
	return cerr_set(e, EINVAL,
			"job reference \"%s\" is ambiguous: it matches %s, %s and maybe more",
			ref, id, other);
}

int store_by_name(struct store *s, const char *name, uint32_t uid,
		  bool unfinished, char (*ids)[JOB_ID_LEN + 1], int max, int *n,
		  struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_BY_NAME];
	int r;

	*n = 0;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, unfinished);
	sqlite3_bind_int64(st, 4, max);
	while ((r = step_row(s, st, "look up job name", e)) > 0)
		copy_col(st, 0, ids[(*n)++], JOB_ID_LEN + 1);
	return r;
}

/* A name means the newest of the user's jobs with it (for stop and kill,
 * the newest that has not ended, if one has not); a full id, that job; a
 * hex prefix of 4 or more, the one visible job whose id starts with it.
 * A reference that is both a name and a prefix of another job's id is
 * refused, naming both. */
int store_resolve(struct store *s, const struct ref_query *q,
		  char id[JOB_ID_LEN + 1], struct cerr *e)
{
	char by_name[1][JOB_ID_LEN + 1], by_prefix[JOB_ID_LEN + 1];
	int named = 0, r = 0;
	size_t n = strlen(q->ref);

	if (job_id_valid(q->ref)) {
		r = resolve_id(s, q->ref, q->admin, q->uid, id, e);
		if (r < 0)
			return -1;
		return r ? 0 : cerr_set(e, ENOENT, "no such job: %s", q->ref);
	}
	if (q->unfinished_first &&
	    store_by_name(s, q->ref, q->name_uid, true, by_name, 1, &named, e) < 0)
		return -1;
	if (!named && store_by_name(s, q->ref, q->name_uid, false, by_name, 1, &named, e) < 0)
		return -1;
	if (prefix_ref(q->ref)) {
		r = resolve_prefix(s, q->ref, q->admin, q->uid, by_prefix, e);
		if (r < 0)
			return -1;
	}
	if (named && r && strcmp(by_name[0], by_prefix))
		return cerr_set(e, EINVAL,
				"\"%s\" names job %s and starts the id of job %s: use more of the id",
				q->ref, by_name[0], by_prefix);
	if (named || r) {
		snprintf(id, JOB_ID_LEN + 1, "%s", named ? by_name[0] : by_prefix);
		return 0;
	}
	if (n < REF_PREFIX_MIN && strspn(q->ref, "0123456789abcdef-") == n)
		return cerr_set(e, ENOENT,
				"no such job: %s (an id prefix needs at least %d characters)",
				q->ref, REF_PREFIX_MIN);
	return cerr_set(e, ENOENT, "no such job: %s", q->ref);
}

int store_unfinished(struct store *s, char (*ids)[JOB_ID_LEN + 1], int max,
		     int *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_UNFINISHED];
	int r;

	*n = 0;
	sqlite3_bind_int64(st, 1, max);
	while ((r = step_row(s, st, "unfinished jobs", e)) > 0)
		copy_col(st, 0, ids[(*n)++], JOB_ID_LEN + 1);
	return r;
}


int store_queued(struct store *s, store_queued_fn fn, void *ctx,
		 struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_QUEUED];
	int r;

	while ((r = step_row(s, st, "queued jobs", e)) > 0) {
		struct queued_row q = { .uid = (uint32_t)sqlite3_column_int64(st, 1),
					.priority = (uint32_t)sqlite3_column_int64(st, 2),
					.after_ok = sqlite3_column_int(st, 4) != 0 };
		copy_col(st, 0, q.id, sizeof q.id);
		copy_col(st, 3, q.after, sizeof q.after);
		if (fn(ctx, &q, e) < 0) {
			finish(st);
			return -1;
		}
	}
	return r;
}

int store_end_of(struct store *s, const char *id,
		 char state[STATE_LEN_MAX + 1], int *exit_code, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_END_OF];
	int r;

	bind_text(st, 1, id);
	r = step_row(s, st, "job state", e);
	if (r < 0)
		return -1;
	if (r == 0)
		return cerr_set(e, ENOENT, "no such job: %s", id);
	copy_col(st, 0, state, STATE_LEN_MAX + 1);
	*exit_code = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1
		     : sqlite3_column_int(st, 1);
	finish(st);
	return 0;
}

int store_taken(struct store *s, const char *id, struct taken_row *t,
		struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_TAKEN];
	int r;

	bind_text(st, 1, id);
	r = step_row(s, st, "job row", e);
	if (r < 0)
		return -1;
	if (r == 0)
		return cerr_set(e, ENOENT, "no starting or running job %s", id);
	t->uid = (uint32_t)sqlite3_column_int64(st, 0);
	t->running = sqlite3_column_int(st, 1) != 0;
	t->timeout_ms = (uint64_t)sqlite3_column_int64(st, 2);
	t->started_ms = sqlite3_column_int64(st, 3);
	t->priority = (uint32_t)sqlite3_column_int64(st, 4);
	copy_col(st, 5, t->stop_action, sizeof t->stop_action);
	t->stop_ms = sqlite3_column_int64(st, 6);
	copy_col(st, 7, t->stop_detail, sizeof t->stop_detail);
	finish(st);
	return 0;
}

int store_state(struct store *s, const char *id,
		char state[STATE_LEN_MAX + 1], struct cerr *e)
{
	int code;

	return store_end_of(s, id, state, &code, e);
}

static void put_strv(struct wire_out *o, uint16_t id, const uint8_t *p,
		     size_t n)
{
	const uint8_t *end = p + n;

	while (p < end) {
		const uint8_t *z = memchr(p, '\0', (size_t)(end - p));
		if (!z)
			break;
		wire_put_str(o, id, (const char *)p);
		p = z + 1;
	}
}

static void put_col(struct wire_out *o, sqlite3_stmt *st, int i,
		    const struct col *c)
{
	const void *b;
	int n;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return;
	switch (c->kind) {
	case K_TEXT:
		wire_put_str(o, c->field,
			     (const char *)sqlite3_column_text(st, i));
		break;
	case K_U32:
		wire_put_u32(o, c->field, (uint32_t)sqlite3_column_int64(st, i));
		break;
	case K_U64:
		wire_put_u64(o, c->field, (uint64_t)sqlite3_column_int64(st, i));
		break;
	case K_STAGE:
		if (stage_from_name((const char *)sqlite3_column_text(st, i)))
			wire_put_u32(o, c->field,
				     stage_from_name((const char *)sqlite3_column_text(st, i)));
		break;
	case K_STRV:
		b = sqlite3_column_blob(st, i);
		n = sqlite3_column_bytes(st, i);
		put_strv(o, c->field, b, (size_t)n);
		break;
	case K_IOV:
		b = sqlite3_column_blob(st, i);
		n = sqlite3_column_bytes(st, i);
		for (int k = 0; k + IO_LIMIT_LEN <= n; k += IO_LIMIT_LEN)
			wire_put_bytes(o, c->field, (const uint8_t *)b + k,
				       IO_LIMIT_LEN);
		break;
	}
}

static int row_to_job(sqlite3_stmt *st, const struct job_live *live,
		      struct wire_out *o, struct cerr *e)
{
	wire_out_init(o, &proto_client_rep, C_JOB);
	for (size_t i = 0; i < NCOLS; i++) {
		uint16_t f = job_cols[i].field;
		if (live && live->output && (f == F_LOG_BYTES || f == F_LOG_DROPPED))
			wire_put_u64(o, f, f == F_LOG_BYTES ? live->stored : live->dropped);
		else
			put_col(o, st, (int)i, &job_cols[i]);
	}
	if (live && live->position)
		wire_put_u32(o, F_POSITION, live->position);
	if (live && live->waiting[0])
		wire_put_str(o, F_WAITING, live->waiting);
	if (wire_out_finish(o, e) < 0)
		return cerr_wrap(e, "job record");
	return 0;
}

int store_job_msg(struct store *s, const char *id, const struct job_live *live,
		  struct wire_out *o, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_SELECT];
	int r;

	memset(o, 0, sizeof *o);
	bind_text(st, 1, id);
	r = step_row(s, st, "read job", e);
	if (r < 0)
		return -1;
	if (r == 0)
		return cerr_set(e, ENOENT, "no such job: %s", id);
	r = row_to_job(st, live, o, e);
	finish(st);
	return r;
}

static void bind_list(sqlite3_stmt *st, const struct list_query *q,
		      uint32_t max)
{
	char states[JS_COUNT * (STATE_LEN_MAX + 1) + 2] = " ";

	for (int i = 0; i < JS_COUNT; i++)
		if (q->states & (1u << i)) {
			strcat(states, state_name((enum job_state)i));
			strcat(states, " ");
		}
	sqlite3_bind_int64(st, 1, q->uid);
	bind_text(st, 2, q->states ? states : NULL);
	bind_text(st, 6, q->name[0] ? q->name : NULL);
	sqlite3_bind_int64(st, 3, q->started ? q->cur_created : INT64_MAX);
	bind_text(st, 4, q->started ? q->cur_id : "");
	sqlite3_bind_int64(st, 5, max);
}

int store_list(struct store *s, struct list_query *q, uint32_t max,
	       store_row_fn fn, void *ctx, uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[q->by_uid ? ST_LIST_UID : ST_LIST];
	int r;

	*n = 0;
	bind_list(st, q, max);
	while ((r = step_row(s, st, "list jobs", e)) > 0) {
		const char *state = (const char *)sqlite3_column_text(st, 3);
		struct job_live live = { 0 };
		bool has_live = false;
		struct wire_out o;
		int rc;

		/* What only corrald knows (a queued job's place, a running
		 * one's output so far), for the jobs that have not ended. */
		if (q->live && state && state_from_name(state) >= 0 &&
		    !state_is_final((enum job_state)state_from_name(state)))
			has_live = q->live(q->live_ctx,
					   (const char *)sqlite3_column_text(st, 0), &live);
		rc = row_to_job(st, has_live ? &live : NULL, &o, e);

		if (rc == 0)
			rc = fn(ctx, &o, e);
		wire_out_free(&o);
		if (rc < 0) {
			finish(st);
			return -1;
		}
		q->started = true;
		q->cur_created = sqlite3_column_int64(st, 4);
		copy_col(st, 0, q->cur_id, sizeof q->cur_id);
		(*n)++;
	}
	return r;
}

static int audit_to_msg(sqlite3_stmt *st, struct wire_out *o, struct cerr *e)
{
	static const struct col acols[] = {
		{ "time_ms", F_TIME_MS, K_U64, false },
		{ "uid", F_UID, K_U32, false },
		{ "pid", F_PID, K_U32, false },
		{ "action", F_ACTION, K_TEXT, false },
		{ "job_id", F_JOB_ID, K_TEXT, false },
		{ "outcome", F_OUTCOME, K_TEXT, false },
		{ "detail", F_DETAIL, K_TEXT, false },
	};

	wire_out_init(o, &proto_client_rep, C_AUDIT_ROW);
	for (size_t i = 0; i < ARRAY_SIZE(acols); i++)
		put_col(o, st, (int)i, &acols[i]);
	return wire_out_finish(o, e);
}

int store_audit_list(struct store *s, struct audit_query *q, uint32_t max,
		     store_row_fn fn, void *ctx, uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_LIST];
	int r;

	*n = 0;
	sqlite3_bind_int64(st, 1, q->before > 0 ? q->before : INT64_MAX);
	sqlite3_bind_int64(st, 2, max);
	sqlite3_bind_int64(st, 3, q->by_uid ? (sqlite3_int64)q->uid : -1);
	bind_text(st, 4, q->action[0] ? q->action : NULL);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)q->since_ms);
	while ((r = step_row(s, st, "list audit", e)) > 0) {
		struct wire_out o;
		int rc = audit_to_msg(st, &o, e);

		if (rc == 0)
			rc = fn(ctx, &o, e);
		wire_out_free(&o);
		if (rc < 0) {
			finish(st);
			return -1;
		}
		q->before = sqlite3_column_int64(st, 7);
		(*n)++;
	}
	return r;
}

/* --- retention ------------------------------------------------------- */

static int pick(struct store *s, enum stmt_id id, int64_t a1, uint32_t max,
		struct store_pick *out, uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[id];
	int r;

	*n = 0;
	sqlite3_bind_int64(st, 1, a1);
	sqlite3_bind_int64(st, 2, max);
	while ((r = step_row(s, st, "retention", e)) > 0) {
		copy_col(st, 0, out[*n].id, sizeof out[*n].id);
		out[*n].size = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	return r;
}

int store_pick_old_logs(struct store *s, int64_t before, uint32_t max,
			struct store_pick *out, uint32_t *n, struct cerr *e)
{
	return pick(s, ST_OLD_LOGS, before, max, out, n, e);
}

int store_pick_oldest_logs(struct store *s, uint32_t max,
			   struct store_pick *out, uint32_t *n, struct cerr *e)
{
	return pick(s, ST_OLDEST_LOGS, 0, max, out, n, e);
}

int store_pick_user_logs(struct store *s, uint32_t uid, uint32_t max,
			 struct store_pick *out, uint32_t *n, struct cerr *e)
{
	return pick(s, ST_USER_OLDEST_LOGS, uid, max, out, n, e);
}

int store_pick_old_jobs(struct store *s, int64_t before, uint32_t max,
			struct store_pick *out, uint32_t *n, struct cerr *e)
{
	return pick(s, ST_OLD_JOBS, before, max, out, n, e);
}

int store_log_total(struct store *s, uint64_t *bytes, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOG_TOTAL];
	int r = step_row(s, st, "log total", e);

	if (r < 0)
		return -1;
	*bytes = r ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	finish(st);
	return 0;
}

int store_users_over(struct store *s, uint64_t quota, uint32_t max,
		     struct store_user *out, uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_USERS_OVER];
	int r;

	*n = 0;
	sqlite3_bind_int64(st, 1, i64(quota));
	sqlite3_bind_int64(st, 2, max);
	while ((r = step_row(s, st, "log quota", e)) > 0) {
		out[*n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		out[*n].bytes = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	return r;
}

int store_log_deleted(struct store *s, const char *id, int64_t now,
		      struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_LOG_DELETED];

	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return update(s, ST_LOG_DELETED, "mark log deleted", e) < 0 ? -1 : 0;
}

int store_delete_job(struct store *s, const char *id, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_DELETE_JOB];
	int n;

	bind_text(st, 1, id);
	n = update(s, ST_DELETE_JOB, "delete job", e);
	if (n < 0)
		return -1;
	return n ? 0 : cerr_set(e, EBUSY, "job %s is not finished", id);
}

int store_prune_audit(struct store *s, int64_t before, uint32_t max,
		      uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_OLD_AUDIT];
	int r;

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, max);
	r = update(s, ST_OLD_AUDIT, "prune audit", e);
	if (r < 0)
		return -1;
	*n = (uint32_t)r;
	return 0;
}

int store_count_old_audit(struct store *s, int64_t before, uint32_t max,
			  uint32_t *n, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_COUNT_OLD_AUDIT];
	int r;

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, max);
	r = step_row(s, st, "count audit", e);
	if (r < 0)
		return -1;
	*n = r ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	finish(st);
	return 0;
}

int store_finished(struct store *s, const char *id, bool *finished,
		   int64_t *log_deleted_ms, struct cerr *e)
{
	sqlite3_stmt *st = s->st[ST_FINISHED];
	int r;

	bind_text(st, 1, id);
	r = step_row(s, st, "job state", e);
	if (r < 0)
		return -1;
	if (r == 0)
		return cerr_set(e, ENOENT, "no such job: %s", id);
	*finished = sqlite3_column_int(st, 0) != 0;
	if (log_deleted_ms)
		*log_deleted_ms = sqlite3_column_int64(st, 1);
	finish(st);
	return 0;
}
