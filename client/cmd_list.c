/* corral ps and corral audit: lists, as tables sized to their contents,
 * ids only (-q) or JSON.  See docs/cli.md. */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "parse.h"
#include "table.h"

#define LIST_DEFAULT 1000	/* rows unless --limit says otherwise */

enum { O_JSON = 256, O_USER, O_STATE, O_NAME, O_LIMIT, O_ACTION, O_SINCE };

struct list_ctx {
	bool json, quiet;
	bool remote;		/* uids are another host's: no names here */
	uint32_t limit;		/* rows to show; one more is asked for */
	size_t n;		/* rows seen */
	uint64_t now_ms;
	struct table t;
};

static int parse_limit(const char *v, uint32_t *out, struct cerr *e)
{
	uint64_t n;

	if (parse_u64(v, &n, e) < 0)
		return cerr_wrap(e, "--limit");
	if (n < 1 || n > LIST_LIMIT_MAX)
		return cerr_set(e, ERANGE, "--limit: \"%s\" is not between 1 and %d",
				v, LIST_LIMIT_MAX);
	*out = (uint32_t)n;
	return 0;
}

/* The row past the limit is not shown: it only says there are more. */
static bool past_limit(struct list_ctx *p)
{
	return ++p->n > p->limit;
}

static void json_sep(struct list_ctx *p)
{
	fputs(p->n > 1 ? ",\n" : "[\n", stdout);
}

/* After the rows: JSON's close, the table, and the hint on stderr. */
static void list_end(struct list_ctx *p, const char *what)
{
	size_t shown = p->n > p->limit ? p->limit : p->n;

	if (p->json)
		fputs(shown ? "\n]\n" : "[]\n", stdout);
	else if (!p->quiet)
		table_print(&p->t, stdout, output_width());
	if (p->n > p->limit)
		fprintf(stderr, "corral: showing the newest %u %s; there are more (--limit N, at most %d)\n",
			p->limit, what, LIST_LIMIT_MAX);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What ps and audit differ in; list_main does the rest. */
struct list_cmd {
	const char *shortopts;
	const struct option *opts;
	void (*help)(FILE *f);
	int (*opt)(void *q, struct list_ctx *p, int ch, const char *v,
		   struct cerr *e);
	/* Check the options as a whole; ask corrald for p->limit + 1 rows. */
	int (*check)(void *q, struct list_ctx *p, struct cerr *e);
	int (*fetch)(struct corral_conn *conn, void *q, struct list_ctx *p,
		     struct cerr *e);
	const char *const *head;
	size_t ncols;
	const char *what;	/* "jobs", for the note that there are more */
};

static int list_main(int argc, char **argv, struct cli *c,
		     const struct list_cmd *lc, void *q)
{
	struct list_ctx p = { .limit = LIST_DEFAULT, .now_ms = now_ms(),
			      .remote = cli_remote(c) };
	struct corral_conn conn;
	struct cerr e = { 0 };
	int ch, rc = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, lc->shortopts, lc->opts)) != -1) {
		if (ch == 'h') {
			lc->help(stdout);
			return 0;
		}
		if (cli_common_opt(c, ch))
			continue;
		if (ch == '?' || ch == ':')
			return cli_bad_option(c, ch, argv);
		else if (lc->opt(q, &p, ch, optarg, &e) < 0)
			return cli_usage(c, "%s", e.msg);
	}
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (lc->check(q, &p, &e) < 0)
		return cli_usage(c, "%s", e.msg);
	table_init(&p.t, lc->head, lc->ncols, lc->ncols - 1);
	if (cli_connect(c, &conn, &e) < 0) {
		rc = cli_fail(c, &e);
	} else {
		if (lc->fetch(&conn, q, &p, &e) < 0)
			rc = cli_fail(c, &e);
		else
			list_end(&p, lc->what);
		corral_close(&conn);
	}
	table_free(&p.t);
	return rc;
}

/* --- ps ---------------------------------------------------------------- */

static void ps_help(FILE *f)
{
	fputs("usage: corral ps [-a] [-q] [--user U] [--state S]... [--name NAME]\n"
	      "                 [--limit N] [--json]\n"
	      "\n"
	      "List jobs, newest first.  By default only yours; -a asks for everyone's\n"
	      "(corrald honours it for admins only).  The first 1000 unless --limit;\n"
	      "a note on stderr says when there are more.\n"
	      "  -a, --all              all users' jobs\n"
	      "  -q, --quiet            job ids only, one per line\n"
	      "  --user U               only jobs of user U (name or uid)\n"
	      "  --state S              only jobs in state S (repeat for several), one of:\n"
	      "                        ", f);
	for (int s = 0; s < JS_COUNT; s++)
		fprintf(f, " %s", state_name((enum job_state)s));
	fputs("\n  --name NAME            only jobs named NAME\n"
	      "  --limit N              at most N jobs\n"
	      "  --json                 a JSON array of job records (see docs/cli.md)\n", f);
}

static const struct option ps_opts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "user", required_argument, NULL, O_USER },
	{ "state", required_argument, NULL, O_STATE },
	{ "name", required_argument, NULL, O_NAME },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "json", no_argument, NULL, O_JSON },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static int ps_opt(void *qv, struct list_ctx *p, int ch, const char *v,
		  struct cerr *e)
{
	struct corral_list_req *q = qv;
	int s;

	switch (ch) {
	case 'a':
		q->all = true;
		return 0;
	case 'q':
		p->quiet = true;
		return 0;
	case O_JSON:
		p->json = true;
		return 0;
	case O_USER:
		q->has_uid = true;
		return cli_parse_user(v, &q->uid, e);
	case O_STATE:
		if ((s = state_from_name(v)) < 0)
			return cerr_set(e, EINVAL, "--state: \"%s\" is not a job state", v);
		q->states |= 1u << s;
		return 0;
	case O_NAME:
		if (!*v || strlen(v) > NAME_LEN_MAX)
			return cerr_set(e, EINVAL, "--name: a name is 1 to %d bytes", NAME_LEN_MAX);
		q->name = v;
		return 0;
	case O_LIMIT:
		return parse_limit(v, &p->limit, e);
	}
	return cerr_set(e, EINVAL, "unhandled option");
}

/* How long the job ran, or has run so far. */
static const char *elapsed(const struct corral_job *j, uint64_t now,
			   char *buf, size_t len)
{
	uint64_t end = j->has_ended ? j->ended_ms : now;

	if (!j->has_started || end < j->started_ms)
		return "-";
	return fmt_duration(end - j->started_ms, buf, len);
}

static const char *const ps_head[] = {
	"ID", "USER", "STATE", "EXIT", "CREATED", "ELAPSED", "NAME", "COMMAND",
};

static int ps_row(void *ctx, const struct corral_job *j, struct cerr *e)
{
	struct list_ctx *p = ctx;
	char user[4 * USER_LEN_MAX + 1], name[4 * NAME_LEN_MAX + 1], uidbuf[16];
	char id[9], ex[32], t[32], el[32], state[4 * STATE_LEN_MAX + 1];
	char queued[STATE_LEN_MAX + 24];
	static char cmd[4 * ARG_LEN_MAX];

	if (past_limit(p))
		return 0;
	if (p->quiet) {
		puts(j->id);
		return 0;
	}
	if (p->json) {
		json_sep(p);
		json_job(stdout, j);
		return 0;
	}
	snprintf(id, sizeof id, "%.8s", j->id);
	snprintf(uidbuf, sizeof uidbuf, "%u", j->uid);
	/* A queued job's place in the start order, or that it waits for
	 * another job. */
	if (j->position)
		snprintf(queued, sizeof queued, "%s #%u", j->state, j->position);
	else if (j->after && state_from_name(j->state) == JS_QUEUED)
		snprintf(queued, sizeof queued, "%s after %.8s", j->state, j->after);
	else
		snprintf(queued, sizeof queued, "%s", j->state);
	const char *cells[] = {
		id,
		fmt_text(j->user ? j->user : uidbuf, sizeof user - 1, user, sizeof user),
		fmt_text(queued, sizeof state - 1, state, sizeof state),
		fmt_exit(j, ex, sizeof ex),
		fmt_time_ms(j->created_ms, t, sizeof t),
		elapsed(j, p->now_ms, el, sizeof el),
		j->opt.s[OPT_NAME] ? fmt_text(j->opt.s[OPT_NAME], sizeof name - 1, name, sizeof name) : "-",
		fmt_command(j->argv, j->argc, sizeof cmd / 4, cmd, sizeof cmd),
	};
	return table_add(&p->t, cells, e);
}

static int ps_check(void *qv, struct list_ctx *p, struct cerr *e)
{
	struct corral_list_req *q = qv;

	if (p->json && p->quiet)
		return cerr_set(e, EINVAL, "-q and --json do not go together");
	q->limit = p->limit + 1;
	return 0;
}

static int ps_fetch(struct corral_conn *conn, void *q, struct list_ctx *p,
		    struct cerr *e)
{
	return corral_list(conn, q, ps_row, p, e);
}

int cmd_ps(int argc, char **argv, struct cli *c)
{
	static const struct list_cmd lc = {
		":aqh", ps_opts, ps_help, ps_opt, ps_check, ps_fetch,
		ps_head, ARRAY_SIZE(ps_head), "jobs",
	};
	struct corral_list_req q = { 0 };

	return list_main(argc, argv, c, &lc, &q);
}

/* --- audit ------------------------------------------------------------- */

static const char audit_help[] =
"usage: corral audit [--user U] [--action A] [--since WHEN] [--limit N] [--json]\n"
"\n"
"The audit log, newest first: every request corrald received, allowed or\n"
"denied.  Admins only (root and members of corral-admin).\n"
"  --user U               only rows of user U (name or uid)\n"
"  --action A             only rows of action A (run, stop, kill, list, ...)\n"
"  --since WHEN           only rows since WHEN: a duration ago (30m, 1h30m,\n"
"                         2d), a date (2026-11-29) or a time\n"
"                         (2026-11-29 14:00[:00]), local time\n"
"  --limit N              at most N rows\n"
"  --json                 a JSON array of rows (see docs/cli.md)\n";

static const struct option audit_opts[] = {
	{ "user", required_argument, NULL, O_USER },
	{ "action", required_argument, NULL, O_ACTION },
	{ "since", required_argument, NULL, O_SINCE },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "json", no_argument, NULL, O_JSON },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

/* A duration ago, or a local date or time. */
static int parse_since(const char *v, uint64_t now, uint64_t *out,
		       struct cerr *e)
{
	static const char *const formats[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
	};
	uint64_t ago;

	/* A bare number is more likely a year than seconds ago: ask. */
	if (*v && strspn(v, "0123456789") == strlen(v))
		return cerr_set(e, EINVAL,
				"--since: \"%s\" needs a unit (%ss, %sm, %sh, %sd) or a date (2026-11-29)",
				v, v, v, v, v);
	if (parse_duration_ms(v, &ago, e) == 0) {
		*out = ago < now ? now - ago : 1;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		struct tm tm = { .tm_isdst = -1 };
		const char *end = strptime(v, formats[i], &tm);
		time_t t;
		if (!end || *end || (t = mktime(&tm)) < 0)
			continue;
		*out = t ? (uint64_t)t * 1000 : 1;
		return 0;
	}
	return cerr_set(e, EINVAL,
			"--since: \"%s\" is neither a duration (1h30m) nor a date (2026-11-29[ 14:00[:00]])",
			v);
}

static int audit_opt(void *qv, struct list_ctx *p, int ch, const char *v,
		     struct cerr *e)
{
	struct corral_audit_req *q = qv;

	switch (ch) {
	case O_JSON:
		p->json = true;
		return 0;
	case O_USER:
		q->has_uid = true;
		return cli_parse_user(v, &q->uid, e);
	case O_ACTION:
		if (!*v || strlen(v) > 32)
			return cerr_set(e, EINVAL, "--action: \"%.40s\" is not an action", v);
		q->action = v;
		return 0;
	case O_SINCE:
		return parse_since(v, p->now_ms, &q->since_ms, e);
	case O_LIMIT:
		return parse_limit(v, &p->limit, e);
	}
	return cerr_set(e, EINVAL, "unhandled option");
}

static const char *const audit_head[] = {
	"TIME", "USER", "PID", "ACTION", "JOB", "OUTCOME", "DETAIL",
};

/* Users by uid, the last one remembered: audit rows come in runs.  Only
 * this machine's corrald has this machine's users (remote: the uid). */
static const char *user_of(uint32_t uid, bool remote, char *buf, size_t len)
{
	static uint32_t last_uid = (uint32_t)-1;
	static char last[4 * USER_LEN_MAX + 1];
	struct passwd *pw;

	if (uid != last_uid) {
		pw = remote ? NULL : getpwuid(uid);
		if (pw)
			fmt_text(pw->pw_name, sizeof last - 1, last, sizeof last);
		else
			snprintf(last, sizeof last, "%u", uid);
		last_uid = uid;
	}
	snprintf(buf, len, "%s", last);
	return buf;
}

static int audit_row(void *ctx, const struct corral_audit_row *r,
		     struct cerr *e)
{
	struct list_ctx *p = ctx;
	char t[32], pid[16], user[4 * USER_LEN_MAX + 1], job[9];
	char act[4 * 32 + 1], out[4 * 32 + 1];
	static char det[4 * MESSAGE_LEN_MAX + 1];

	if (past_limit(p))
		return 0;
	if (p->json) {
		json_sep(p);
		json_audit_row(stdout, r, p->remote ? NULL : getpwuid(r->uid));
		return 0;
	}
	snprintf(pid, sizeof pid, r->has_pid ? "%u" : "-", r->pid);
	snprintf(job, sizeof job, "%.8s", r->job_id && *r->job_id ? r->job_id : "-");
	const char *cells[] = {
		fmt_time_ms(r->time_ms, t, sizeof t),
		user_of(r->uid, p->remote, user, sizeof user),
		pid,
		fmt_text(r->action, sizeof act - 1, act, sizeof act),
		job,
		fmt_text(r->outcome, sizeof out - 1, out, sizeof out),
		fmt_text(r->detail ? r->detail : "-", sizeof det - 1, det, sizeof det),
	};
	return table_add(&p->t, cells, e);
}

static int audit_check(void *qv, struct list_ctx *p, struct cerr *e)
{
	struct corral_audit_req *q = qv;

	(void)e;
	q->limit = p->limit + 1;
	return 0;
}

static int audit_fetch(struct corral_conn *conn, void *q, struct list_ctx *p,
		       struct cerr *e)
{
	return corral_audit(conn, q, audit_row, p, e);
}

static void audit_help_out(FILE *f)
{
	fputs(audit_help, f);
}

int cmd_audit(int argc, char **argv, struct cli *c)
{
	static const struct list_cmd lc = {
		":h", audit_opts, audit_help_out, audit_opt, audit_check,
		audit_fetch, audit_head, ARRAY_SIZE(audit_head), "rows",
	};
	struct corral_audit_req q = { 0 };

	return list_main(argc, argv, c, &lc, &q);
}
