/* The job store: migrations, inserts, reference resolution, the start-up
 * sweep and the audit list, against in-memory and on-disk databases; and
 * the request layer's VIA note in audit details. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cleanup.h"
#include "mgr.h"
#include "proto.h"
#include "schema.h"
#include "store.h"

#define ID_A1 "aaaa1111-0000-4000-8000-000000000001"
#define ID_A2 "aaaa2222-0000-4000-8000-000000000002"
#define ID_B "bbbb0000-0000-4000-8000-000000000003"
#define ID_OTHER "cccc0000-0000-4000-8000-000000000004"
#define ID_C2 "dddd0000-0000-4000-8000-000000000005"
#define ID_N "eeee0000-0000-4000-8000-000000000006"
#define ID_X "ffff0000-0000-4000-8000-000000000007"

/* A decoded RUN request, as the request layer would see it. */
static void make_run(struct wire_msg *m, const char *name, const char *arg0)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_ARGV, arg0);
	wire_put_str(&o, F_ARGV, "");
	wire_put_str(&o, F_ARGV, "two words");
	wire_put_str(&o, F_ENV, "A=1");
	wire_put_str(&o, F_ENV, "B=x=y");
	wire_put_str(&o, F_CWD, "/srv");
	wire_put_u64(&o, F_MEMORY_MAX, 1 << 30);
	wire_put_u64(&o, F_MEMORY_SWAP_MAX, 0);
	wire_put_u32(&o, F_NS_OFF, NS_NET);
	if (name)
		wire_put_str(&o, F_NAME, name);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_decode(&proto_client_req, o.buf, o.len, m, &e), 0);
	wire_out_free(&o);
}

static const char *const run_env[] = { "A=1", "B=x=y" };

static void insert(struct store *s, const char *id, uint32_t uid,
		   const char *name, int64_t t)
{
	struct audit_rec a = { .time_ms = t, .uid = uid, .pid = 42,
			       .action = "run", .job_id = id,
			       .outcome = "ok" };
	struct wire_msg m;
	struct cerr e;

	make_run(&m, name, "/bin/echo");
	assert_int_equal(store_insert_run(s, id, uid, "someone", t, &m, run_env, 2, &a, &e), 0);
	wire_msg_free(&m);
}

static struct store *open_mem(void)
{
	struct store *s = NULL;
	struct cerr e;

	assert_int_equal(store_open(&s, ":memory:", &e), 0);
	return s;
}

static void job_msg(struct store *s, const char *id, struct wire_msg *m)
{
	struct wire_out o;
	struct cerr e;

	assert_int_equal(store_job_msg(s, id, NULL, &o, &e), 0);
	assert_int_equal(wire_decode(&proto_client_rep, o.buf, o.len, m, &e), 0);
	wire_out_free(&o);
}

static int count_row(void *ctx, struct wire_out *o, struct cerr *e)
{
	struct wire_msg m;

	(*(int *)ctx)++;
	assert_int_equal(wire_decode(&proto_client_rep, o->buf, o->len, &m, e), 0);
	wire_msg_free(&m);
	return 0;
}

/* A path for a database of a test's own, with nothing there yet. */
static void fresh_path(char *path)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

static void test_migrations(void **state)
{
	char path[] = "/tmp/test_store.XXXXXX";
	char db[64], wal[80], shm[80];
	struct store *s = NULL;
	struct cerr e;

	(void)state;
	fresh_path(path);
	snprintf(db, sizeof db, "%s", path);
	assert_true(nmigrations >= 1);
	assert_int_equal(store_open(&s, db, &e), 0);
	assert_int_equal(store_user_version(s), (int)nmigrations);
	insert(s, ID_A1, 1000, "keep", 1);
	store_close(s);
	/* Reopening applies nothing twice and keeps the data. */
	assert_int_equal(store_open(&s, db, &e), 0);
	assert_int_equal(store_user_version(s), (int)nmigrations);
	char st[STATE_LEN_MAX + 1];
	assert_int_equal(store_state(s, ID_A1, st, &e), 0);
	assert_string_equal(st, "starting");
	store_close(s);
	snprintf(wal, sizeof wal, "%s-wal", db);
	snprintf(shm, sizeof shm, "%s-shm", db);
	unlink(db);
	unlink(wal);
	unlink(shm);
}

/* Garbage over the schema page (page 1 past its first KiB) is refused at
 * open as damage, whatever SQLite calls it: this seed makes it read a
 * record claiming more than its length limit (SQLITE_TOOBIG), which
 * corrald once reported as a plain error (the fault tier's random
 * garbage met it now and then). */
static void test_damaged_schema_page(void **state)
{
	char path[] = "/tmp/test_store.XXXXXX", side[80];
	uint64_t x = 564 * 0x9E3779B97F4A7C15ull;	/* xorshift64 */
	unsigned char page[3072];
	struct store *s = NULL;
	struct cerr e;
	FILE *f;

	(void)state;
	fresh_path(path);
	assert_int_equal(store_open(&s, path, &e), 0);
	insert(s, ID_A1, 1000, "keep", 1);
	store_close(s);
	for (size_t i = 0; i < sizeof page; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		page[i] = (unsigned char)x;
	}
	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fseek(f, 1024, SEEK_SET), 0);
	assert_int_equal(fwrite(page, 1, sizeof page, f), sizeof page);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(store_open(&s, path, &e), -1);
	assert_non_null(strstr(e.msg, "job store is damaged"));
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

static void test_insert_roundtrip(void **state)
{
	struct store *s = open_mem();
	struct wire_msg m;
	const struct wire_val *v;

	(void)state;
	insert(s, ID_A1, 1000, "build", 1234);
	job_msg(s, ID_A1, &m);
	assert_string_equal(wire_str(&m, F_JOB_ID), ID_A1);
	assert_string_equal(wire_str(&m, F_STATE), "starting");
	assert_string_equal(wire_str(&m, F_NAME), "build");
	assert_string_equal(wire_str(&m, F_USER), "someone");
	assert_int_equal(wire_u32(&m, F_UID, 0), 1000);
	assert_int_equal(wire_u64(&m, F_CREATED_MS, 0), 1234);
	assert_int_equal(wire_count(&m, F_ARGV), 3);
	v = wire_nth(&m, F_ARGV, 1);
	assert_int_equal(v->len, 0);
	assert_string_equal(wire_nth(&m, F_ARGV, 2)->p, "two words");
	assert_string_equal(wire_nth(&m, F_ENV, 1)->p, "B=x=y");
	assert_string_equal(wire_str(&m, F_CWD), "/srv");
	assert_int_equal(wire_u64(&m, F_MEMORY_MAX, 0), 1 << 30);
	assert_true(wire_has(&m, F_MEMORY_SWAP_MAX));
	assert_false(wire_has(&m, F_CPU_QUOTA_USEC));
	assert_int_equal(wire_u32(&m, F_NS_OFF, 99), NS_NET);
	assert_false(wire_has(&m, F_PID));
	wire_msg_free(&m);
	store_close(s);
}

static void test_duplicate_id_rolls_back(void **state)
{
	struct store *s = open_mem();
	struct audit_rec a = { .time_ms = 5, .uid = 7, .action = "run",
			       .job_id = ID_A1, .outcome = "ok" };
	struct wire_msg m;
	struct cerr e;
	uint32_t n;
	struct audit_query aq = { 0 };
	int rows = 0;

	(void)state;
	insert(s, ID_A1, 1000, NULL, 1);
	make_run(&m, NULL, "/bin/true");
	assert_int_equal(store_insert_run(s, ID_A1, 7, "x", 5, &m, run_env, 2, &a, &e), -1);
	assert_int_equal(e.num, EEXIST);
	wire_msg_free(&m);
	/* The failed transaction left no audit row behind: only the first
	 * insert's row is there. */
	assert_int_equal(store_audit_list(s, &aq, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 1);
	store_close(s);
}

static int res(struct store *s, const char *ref, bool admin, uint32_t uid,
	       uint32_t name_uid, bool unfinished, char id[JOB_ID_LEN + 1],
	       struct cerr *e)
{
	struct ref_query q = { .ref = ref, .uid = uid, .admin = admin,
			       .name_uid = name_uid, .unfinished_first = unfinished };

	return store_resolve(s, &q, id, e);
}

static void test_resolve(void **state)
{
	char id[JOB_ID_LEN + 1];
	struct store *s = open_mem();
	struct cerr e;

	(void)state;
	insert(s, ID_A1, 1000, "web", 1);
	insert(s, ID_A2, 1000, "web", 2);
	insert(s, ID_B, 1000, NULL, 3);
	insert(s, ID_OTHER, 2000, "web", 4);
	insert(s, ID_C2, 0, "web", 5);		/* an admin's own */
	insert(s, ID_N, 1000, "2024", 6);	/* names may be all digits */

	assert_int_equal(res(s, ID_B, false, 1000, 1000, false, id, &e), 0);
	assert_string_equal(id, ID_B);
	assert_int_equal(res(s, "aaaa1", false, 1000, 1000, false, id, &e), 0);
	assert_string_equal(id, ID_A1);
	assert_int_equal(res(s, "bbbb", false, 1000, 1000, false, id, &e), 0);
	assert_string_equal(id, ID_B);

	assert_int_equal(res(s, "aaaa", false, 1000, 1000, false, id, &e), -1);
	assert_int_equal(e.num, EINVAL);
	assert_non_null(strstr(e.msg, "ambiguous"));
	assert_non_null(strstr(e.msg, "aaaa"));

	/* A name is the caller's own: an admin's "web" is the admin's job,
	 * not another user's newer one; --user names theirs. */
	assert_int_equal(res(s, "web", false, 1000, 1000, false, id, &e), 0);
	assert_string_equal(id, ID_A2);
	assert_int_equal(res(s, "web", true, 0, 0, false, id, &e), 0);
	assert_string_equal(id, ID_C2);
	assert_int_equal(res(s, "web", true, 0, 2000, false, id, &e), 0);
	assert_string_equal(id, ID_OTHER);
	assert_int_equal(res(s, "2024", false, 1000, 1000, false, id, &e), 0);
	assert_string_equal(id, ID_N);

	/* Another user's job is "no such job", never "forbidden". */
	assert_int_equal(res(s, ID_OTHER, false, 1000, 1000, false, id, &e), -1);
	assert_int_equal(e.num, ENOENT);
	assert_int_equal(res(s, "cccc", false, 1000, 1000, false, id, &e), -1);
	assert_int_equal(e.num, ENOENT);
	assert_int_equal(res(s, ID_OTHER, true, 0, 0, false, id, &e), 0);

	/* Too short for a prefix, and no such name: the message says why. */
	assert_int_equal(res(s, "aaa", false, 1000, 1000, false, id, &e), -1);
	assert_int_equal(e.num, ENOENT);
	assert_non_null(strstr(e.msg, "at least 4 characters"));

	/* A name that is also the start of another job's id: both named. */
	insert(s, ID_X, 1000, "cccc", 7);
	assert_int_equal(res(s, "cccc", true, 0, 1000, false, id, &e), -1);
	assert_non_null(strstr(e.msg, "names job " ID_X));
	assert_non_null(strstr(e.msg, "starts the id of job " ID_OTHER));

	/* stop and kill: a name means a job still running */
	assert_int_equal(store_set_running(s, ID_A1, 7, 8, &e), 0);
	assert_int_equal(store_set_ended(s, ID_A2, &(struct job_end){ .state = "exited" }, &e), 0);
	assert_int_equal(res(s, "web", false, 1000, 1000, true, id, &e), 0);
	assert_string_equal(id, ID_A1);
	store_close(s);
}

static void test_mark_lost(void **state)
{
	struct store *s = open_mem();
	struct job_end je = { .state = "exited", .ended_ms = 9,
			      .has_status = true, .wstatus = 3 << 8 };
	struct wire_msg m;
	struct cerr e;
	char st[STATE_LEN_MAX + 1];
	int n = -1;

	(void)state;
	insert(s, ID_A1, 1000, NULL, 1);	/* stays starting */
	insert(s, ID_A2, 1000, NULL, 2);
	insert(s, ID_B, 1000, NULL, 3);
	assert_int_equal(store_set_running(s, ID_A2, 77, 5, &e), 0);
	assert_int_equal(store_set_running(s, ID_B, 78, 5, &e), 0);
	assert_int_equal(store_set_ended(s, ID_B, &je, &e), 0);

	assert_int_equal(store_mark_all_lost(s, "corrald restarted", 100, &n, &e), 0);
	assert_int_equal(n, 2);
	job_msg(s, ID_A2, &m);
	assert_string_equal(wire_str(&m, F_STATE), "lost");
	assert_string_equal(wire_str(&m, F_ERROR), "corrald restarted");
	assert_int_equal(wire_u64(&m, F_ENDED_MS, 0), 100);
	assert_int_equal(wire_u32(&m, F_PID, 0), 77);
	wire_msg_free(&m);
	assert_int_equal(store_state(s, ID_A1, st, &e), 0);
	assert_string_equal(st, "lost");
	job_msg(s, ID_B, &m);
	assert_string_equal(wire_str(&m, F_STATE), "exited");
	assert_int_equal(wire_u32(&m, F_EXIT_CODE, 99), 3);
	assert_false(wire_has(&m, F_SIGNAL));
	wire_msg_free(&m);
	/* A second sweep finds nothing. */
	assert_int_equal(store_mark_all_lost(s, "again", 200, &n, &e), 0);
	assert_int_equal(n, 0);
	store_close(s);
}

static void test_list_and_audit(void **state)
{
	struct store *s = open_mem();
	struct list_query q = { .by_uid = true, .uid = 1000 };
	struct audit_rec a = { .time_ms = 50, .uid = 3, .action = "list",
			       .outcome = "denied", .detail = "nope" };
	struct audit_query aq = { 0 };
	int rows = 0;
	uint32_t n;
	struct cerr e;

	(void)state;
	insert(s, ID_A1, 1000, "build", 1);
	insert(s, ID_A2, 1000, NULL, 2);
	insert(s, ID_B, 1000, NULL, 3);
	insert(s, ID_OTHER, 2000, NULL, 4);
	/* Pages of 2 walk the user's 3 jobs newest first, then stop. */
	assert_int_equal(store_list(s, &q, 2, count_row, &rows, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(q.cur_id, ID_A2);
	assert_int_equal(store_list(s, &q, 2, count_row, &rows, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(q.cur_id, ID_A1);
	assert_int_equal(rows, 3);

	/* States: any of a set. */
	memset(&q, 0, sizeof q);
	q.states = 1u << JS_STARTING;
	rows = 0;
	assert_int_equal(store_list(s, &q, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 4);
	assert_int_equal(store_set_ended(s, ID_B, &(struct job_end){ .state = "failed" }, &e), 0);
	assert_int_equal(store_set_ended(s, ID_A2, &(struct job_end){ .state = "exited" }, &e), 0);
	memset(&q, 0, sizeof q);
	q.states = 1u << JS_EXITED | 1u << JS_FAILED;
	rows = 0;
	assert_int_equal(store_list(s, &q, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 2);
	q = (struct list_query){ .states = 1u << JS_EXITED };
	rows = 0;
	assert_int_equal(store_list(s, &q, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 1);
	/* Names. */
	q = (struct list_query){ .by_uid = true, .uid = 1000 };
	snprintf(q.name, sizeof q.name, "build");
	rows = 0;
	assert_int_equal(store_list(s, &q, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 1);
	assert_string_equal(q.cur_id, ID_A1);

	assert_int_equal(store_audit(s, &a, false, &e), 0);
	rows = 0;
	assert_int_equal(store_audit_list(s, &aq, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 5);	/* 4 runs + 1 denial */
	/* Audit filters: by user, by action, since a time. */
	aq = (struct audit_query){ .by_uid = true, .uid = 3 };
	rows = 0;
	assert_int_equal(store_audit_list(s, &aq, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 1);
	aq = (struct audit_query){ 0 };
	snprintf(aq.action, sizeof aq.action, "run");
	rows = 0;
	assert_int_equal(store_audit_list(s, &aq, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 4);
	aq = (struct audit_query){ .since_ms = 50 };
	rows = 0;
	assert_int_equal(store_audit_list(s, &aq, 100, count_row, &rows, &n, &e), 0);
	assert_int_equal(rows, 1);
	store_close(s);
}

/* The schema's CHECK lists the states too: every state of state.def must
 * pass it, and a name that is not a state must not. */
static void test_every_state_stored(void **state)
{
	struct store *s = open_mem();
	struct job_end je = { .ended_ms = 9 };
	struct cerr e;

	(void)state;
	for (int st = 0; st < JS_COUNT; st++) {
		char got[STATE_LEN_MAX + 1], id[JOB_ID_LEN + 1];
		snprintf(id, sizeof id, "dddd%04d-0000-4000-8000-000000000000", st);
		insert(s, id, 1000, NULL, 1);
		je.state = state_name((enum job_state)st);
		if (store_set_ended(s, id, &je, &e) < 0)
			fail_msg("state %s refused by the store: %s", je.state, e.msg);
		assert_int_equal(store_state(s, id, got, &e), 0);
		assert_string_equal(got, je.state);
	}
	insert(s, ID_A1, 1000, NULL, 1);
	je.state = "paused";
	assert_int_equal(store_set_ended(s, ID_A1, &je, &e), -1);
	store_close(s);
}

/* An ended row is never rewritten: not by a second end, a late failure
 * or a start. */
static void test_ended_row_stays(void **state)
{
	struct store *s = open_mem();
	struct job_end je = { .state = "exited", .ended_ms = 9, .has_status = true };
	char got[STATE_LEN_MAX + 1];
	struct wire_msg m;
	struct cerr e;

	(void)state;
	insert(s, ID_A1, 1000, NULL, 1);
	assert_int_equal(store_set_running(s, ID_A1, 42, 2, &e), 0);
	assert_int_equal(store_set_ended(s, ID_A1, &je, &e), 0);
	je.state = "lost";
	je.wstatus = 9;
	assert_int_equal(store_set_ended(s, ID_A1, &je, &e), 0);
	assert_int_equal(store_set_failed(s, ID_A1, STAGE_POLICY, EPERM, "late", 10, &e), 0);
	assert_int_equal(store_set_lost(s, ID_A1, "restarted", 11, &e), 0);
	assert_int_equal(store_set_running(s, ID_A1, 43, 12, &e), 0);
	assert_int_equal(store_state(s, ID_A1, got, &e), 0);
	assert_string_equal(got, "exited");
	job_msg(s, ID_A1, &m);
	assert_int_equal(wire_u32(&m, F_EXIT_CODE, 99), 0);
	assert_int_equal(wire_u64(&m, F_ENDED_MS, 0), 9);
	assert_int_equal(wire_u32(&m, F_PID, 0), 42);
	assert_false(wire_has(&m, F_ERROR));
	wire_msg_free(&m);
	store_close(s);
}

/* A failed start keeps its stage (a name in the store, a number on the
 * wire) and its errno. */
static void test_failed_stage_and_errno(void **state)
{
	struct store *s = open_mem();
	struct wire_msg m;
	struct cerr e;

	(void)state;
	insert(s, ID_A1, 1000, NULL, 1);
	assert_int_equal(store_set_failed(s, ID_A1, STAGE_JOB_EXEC, ENOENT,
					  "No such file or directory", 5, &e), 0);
	job_msg(s, ID_A1, &m);
	assert_string_equal(wire_str(&m, F_STATE), "failed");
	assert_int_equal(wire_u32(&m, F_STAGE, 0), STAGE_JOB_EXEC);
	assert_int_equal(wire_u32(&m, F_ERRNO, 0), ENOENT);
	wire_msg_free(&m);
	store_close(s);
}

/* --- the queue's rows ---------------------------------------------- */

static void insert_q(struct store *s, const char *id, uint32_t uid, int64_t t,
		     const char *after, bool after_ok, const char *cancel)
{
	struct audit_rec a[2] = {
		{ .time_ms = t, .uid = uid, .action = "run", .job_id = id, .outcome = "ok" },
		{ .time_ms = t, .uid = uid, .action = cancel ? "cancel" : "queue",
		  .job_id = id, .outcome = "ok", .detail = "waiting" },
	};
	struct new_job nj = { .id = id, .uid = uid, .user = "u", .now = t,
			      .env = run_env, .nenv = 2, .queued = true,
			      .after_id = after, .after_ok = after_ok,
			      .cancel_why = cancel };
	struct wire_msg m;
	struct cerr e;

	make_run(&m, NULL, "/bin/true");
	nj.run = &m;
	assert_int_equal(store_insert_job(s, &nj, a, 2, &e), 0);
	wire_msg_free(&m);
}

struct seen {
	int n;
	struct queued_row rows[8];
};

static int collect(void *ctx, const struct queued_row *q, struct cerr *e)
{
	struct seen *v = ctx;

	(void)e;
	v->rows[v->n++] = *q;
	return 0;
}

static int audit_count(struct store *s, const char *action)
{
	struct audit_query q = { 0 };
	int rows = 0;
	uint32_t n;
	struct cerr e;

	snprintf(q.action, sizeof q.action, "%s", action);
	assert_int_equal(store_audit_list(s, &q, 100, count_row, &rows, &n, &e), 0);
	return rows;
}

/* Queued rows come back oldest first with what they wait for; each
 * transition leaves the state it names only, with its audit row. */
static void test_queued_rows(void **state)
{
	struct store *s = open_mem();
	struct audit_rec a = { .time_ms = 9, .uid = 1000, .action = "dequeue",
			       .job_id = ID_A1, .outcome = "ok" };
	char st[STATE_LEN_MAX + 1];
	struct seen v = { 0 };
	struct wire_msg m;
	struct cerr e;
	int code;

	(void)state;
	insert_q(s, ID_A2, 1000, 2, NULL, false, NULL);
	insert_q(s, ID_A1, 1000, 1, NULL, false, NULL);
	insert_q(s, ID_B, 1001, 3, ID_A1, true, NULL);
	insert_q(s, ID_C2, 1001, 4, ID_A1, true, "job failed already");
	assert_int_equal(store_queued(s, collect, &v, &e), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(v.rows[0].id, ID_A1);
	assert_string_equal(v.rows[1].id, ID_A2);
	assert_string_equal(v.rows[2].id, ID_B);
	assert_string_equal(v.rows[2].after, ID_A1);
	assert_true(v.rows[2].after_ok);
	assert_string_equal(v.rows[0].after, "");
	/* cancelled at once: final, with its reason */
	assert_int_equal(store_end_of(s, ID_C2, st, &code, &e), 0);
	assert_string_equal(st, "cancelled");
	assert_int_equal(code, -1);
	job_msg(s, ID_C2, &m);
	assert_string_equal(wire_str(&m, F_ERROR), "job failed already");
	wire_msg_free(&m);
	job_msg(s, ID_B, &m);
	assert_string_equal(wire_str(&m, F_AFTER), ID_A1);
	assert_int_equal(wire_u32(&m, F_AFTER_OK, 0), 1);
	wire_msg_free(&m);
	/* queued -> starting -> queued (the helper had no slot) -> starting */
	assert_int_equal(store_dequeue(s, ID_A1, &a, &e), 0);
	assert_int_equal(store_dequeue(s, ID_A1, &a, &e), -1);
	assert_int_equal(e.num, ESRCH);
	a.action = "requeue";
	assert_int_equal(store_requeue(s, ID_A1, &a, &e), 0);
	assert_int_equal(store_state(s, ID_A1, st, &e), 0);
	assert_string_equal(st, "queued");
	a.action = "dequeue";
	assert_int_equal(store_dequeue(s, ID_A1, &a, &e), 0);
	assert_int_equal(store_set_running(s, ID_A1, 7, 10, &e), 0);
	/* a running job is not cancelled, nor requeued */
	a.action = "cancel";
	assert_int_equal(store_cancel(s, ID_A1, "no", 11, &a, &e), -1);
	assert_int_equal(store_requeue(s, ID_A1, &a, &e), -1);
	assert_int_equal(store_cancel(s, ID_A2, "stopped while queued", 11, &a, &e), 0);
	assert_int_equal(store_end_of(s, ID_A2, st, &code, &e), 0);
	assert_string_equal(st, "cancelled");
	v.n = 0;
	assert_int_equal(store_queued(s, collect, &v, &e), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(audit_count(s, "dequeue"), 2);
	assert_int_equal(audit_count(s, "requeue"), 1);
	assert_int_equal(audit_count(s, "cancel"), 2);
	assert_int_equal(audit_count(s, "queue"), 3);
	/* the start-up sweep leaves queued rows alone; a queued row is not
	 * finished (stop and rm see it unfinished) */
	int lost = 0;
	assert_int_equal(store_mark_all_lost(s, "corrald restarted", 12, &lost, &e), 0);
	assert_int_equal(lost, 1);
	assert_int_equal(store_state(s, ID_B, st, &e), 0);
	assert_string_equal(st, "queued");
	bool fin = true;
	assert_int_equal(store_finished(s, ID_B, &fin, NULL, &e), 0);
	assert_false(fin);
	assert_int_equal(store_delete_job(s, ID_B, &e), -1);
	store_close(s);
}

/* Version 6 makes the jobs table anew: rows and the audit rows' job ids
 * survive it. */
static void test_migration_keeps_audit_links(void **state)
{
	char path[] = "/tmp/test_store6.XXXXXX", side[96];
	char st[STATE_LEN_MAX + 1];
	struct store *s = NULL;
	sqlite3 *db;
	sqlite3_stmt *q;
	struct cerr e;

	(void)state;
	fresh_path(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"PRAGMA user_version = 5;"
		"INSERT INTO jobs (id, uid, state, argv, cwd, created_ms) VALUES "
		"('" ID_A1 "', 1000, 'exited', x'00', '/', 1);"
		"INSERT INTO audit (time_ms, uid, action, job_id, outcome) VALUES "
		"(1, 1000, 'run', '" ID_A1 "', 'ok');", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_user_version(s), (int)nmigrations);
	assert_int_equal(store_state(s, ID_A1, st, &e), 0);
	assert_string_equal(st, "exited");
	store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT job_id FROM audit", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), ID_A1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

/* --- VIA: the client's note, in audit details only ----------------------- */

static void request(struct mgr *m, struct client *c, struct wire_out *o)
{
	struct wire_msg msg;
	struct cerr e;

	assert_int_equal(wire_out_finish(o, &e), 0);
	assert_int_equal(wire_decode(&proto_client_req, o->buf, o->len, &msg, &e), 0);
	req_handle(m, c, &msg);
	wire_msg_free(&msg);
	wire_out_free(o);
}

static void send_via(struct mgr *m, struct client *c, const char *note)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_VIA);
	wire_put_str(&o, F_VIA, note);
	request(m, c, &o);
}

static void send_whoami(struct mgr *m, struct client *c)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	request(m, c, &o);
}

/* The type of the first reply queued on c, 0 if none. */
static unsigned first_reply(struct client *c)
{
	struct wire_msg m;
	struct cerr e;
	unsigned t;

	if (!c->q.head)
		return 0;
	assert_int_equal(wire_decode(&proto_client_rep, c->q.head->b->data,
				     c->q.head->b->len, &m, &e), 0);
	t = m.type;
	wire_msg_free(&m);
	return t;
}

/* The newest audit row's detail. */
static int newest_detail(void *ctx, struct wire_out *o, struct cerr *e)
{
	char *out = ctx;
	struct wire_msg m;

	assert_int_equal(wire_decode(&proto_client_rep, o->buf, o->len, &m, e), 0);
	if (!out[0])
		snprintf(out, MESSAGE_LEN_MAX, "%s", wire_str(&m, F_DETAIL) ? wire_str(&m, F_DETAIL) : "-");
	wire_msg_free(&m);
	return 0;
}

static void detail_of_newest(struct store *s, char *out)
{
	struct audit_query aq = { 0 };
	struct cerr e;
	uint32_t n;

	out[0] = '\0';
	assert_int_equal(store_audit_list(s, &aq, 1, newest_detail, out, &n, &e), 0);
}

static void test_via(void **state)
{
	struct mgr m = { .store = open_mem() };
	struct client a = { .fd = -1, .who = { .uid = 1000 } };
	struct client late = a, bad = a;
	char detail[MESSAGE_LEN_MAX], big[MESSAGE_LEN_MAX + 100];

	(void)state;
	/* First on its connection: kept, no reply; later rows carry it. */
	send_via(&m, &a, "ssh:192.0.2.7:50022");
	assert_int_equal(first_reply(&a), 0);
	assert_false(a.closing);
	send_whoami(&m, &a);
	assert_int_equal(first_reply(&a), C_OK);
	detail_of_newest(m.store, detail);
	assert_string_equal(detail, "via=ssh:192.0.2.7:50022");
	/* A long detail is cut, the note kept whole, within the bound. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(audit(&m, &a.who, "run", NULL, "ok", big, false), 0);
	detail_of_newest(m.store, detail);
	assert_int_equal(strlen(detail), MESSAGE_LEN_MAX - 1);
	assert_non_null(strstr(detail, "x via=ssh:192.0.2.7:50022"));
	outq_clear(&a.q);

	/* After a request: refused, and the connection closed. */
	send_whoami(&m, &late);
	outq_clear(&late.q);
	send_via(&m, &late, "ssh:192.0.2.7:50022");
	assert_int_equal(first_reply(&late), C_ERROR);
	assert_true(late.closing);
	assert_string_equal(late.who.via, "");
	outq_clear(&late.q);

	/* Not printable, or with a space: refused. */
	send_via(&m, &bad, "ssh:a b");
	assert_int_equal(first_reply(&bad), C_ERROR);
	assert_true(bad.closing);
	assert_string_equal(bad.who.via, "");
	outq_clear(&bad.q);
	store_close(m.store);
}

static void send_run_env(struct mgr *m, struct client *c, const char *env)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_ARGV, "true");
	wire_put_str(&o, F_ENV, "GOOD_1=x y");
	wire_put_str(&o, F_ENV, env);
	wire_put_str(&o, F_CWD, "/");
	request(m, c, &o);
}

/* A RUN whose env names a variable no shell could set is refused by
 * corrald, naming it, whatever the client checked. */
static void test_run_env_name(void **state)
{
	static const char *const bad[] = { "A B=1", "1X=2", "A-B=3", "=4" };
	struct mgr m = { .store = open_mem() };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct client c = { .fd = -1, .who = { .uid = 1000 } };
		struct wire_msg r;
		struct cerr e;

		send_run_env(&m, &c, bad[i]);
		assert_int_equal(first_reply(&c), C_ERROR);
		assert_int_equal(wire_decode(&proto_client_rep, c.q.head->b->data,
					     c.q.head->b->len, &r, &e), 0);
		assert_int_equal(wire_u32(&r, F_ERRNO, 0), EINVAL);
		assert_non_null(strstr(wire_str(&r, F_MESSAGE), "env[1]"));
		if (i < 3)
			assert_non_null(strstr(wire_str(&r, F_MESSAGE), "is not a variable name"));
		wire_msg_free(&r);
		outq_clear(&c.q);
	}
	store_close(m.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_damaged_schema_page),
		cmocka_unit_test(test_insert_roundtrip),
		cmocka_unit_test(test_duplicate_id_rolls_back),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_mark_lost),
		cmocka_unit_test(test_list_and_audit),
		cmocka_unit_test(test_every_state_stored),
		cmocka_unit_test(test_ended_row_stays),
		cmocka_unit_test(test_failed_stage_and_errno),
		cmocka_unit_test(test_run_env_name),
		cmocka_unit_test(test_queued_rows),
		cmocka_unit_test(test_migration_keeps_audit_links),
		cmocka_unit_test(test_via),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
