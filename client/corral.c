/* corral: the command-line client.  See docs/cli.md. */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "parse.h"

static const char main_help[] =
"usage: corral [--socket PATH] COMMAND [ARGS...]\n"
"\n"
"Run commands as jobs with resource limits, through corrald.\n"
"\n"
"Commands:\n"
"  run [LIMITS] [OPTIONS] [--] CMD [ARG...]   run a job (attached or -d)\n"
"  ps [-a] [--user U] [--state S] [--json]    list jobs\n"
"  status [--json] JOB                        everything known about a job\n"
"  logs [-f] [--stdout|--stderr] JOB          a job's output\n"
"  wait [--json] JOB                          wait for a job, exit like it\n"
"  stop [--grace DUR] JOB                     SIGTERM, then kill after grace\n"
"  kill JOB                                   kill the job's whole cgroup\n"
"  rm JOB...                                  delete ended jobs and their logs\n"
"  prune [--dry-run]                          apply retention now (admins)\n"
"  audit [--limit N] [--json]                 the audit log (admins)\n"
"  whoami [--json]                            who corrald thinks you are\n"
"\n"
"JOB is a job id, a unique id prefix (4+ characters) or a job name.\n"
"The socket is --socket, else $CORRAL_SOCKET, else " DEFAULT_SOCKET ".\n"
"corral COMMAND --help describes each command.  Exit status 125 means\n"
"corral itself failed (usage, connection, refusal); see docs/cli.md.\n";

/* --- shared helpers -------------------------------------------------------- */

int cli_usage(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs("corral: ", stderr);
	if (c->cmd)
		fprintf(stderr, "%s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see corral%s%s --help)\n", c->cmd ? " " : "",
		c->cmd ? c->cmd : "");
	return EXIT_CORRAL;
}

/* getopt_long, without its abbreviations: "--time 1:00" must not pass as
 * --timeout.  A long option given short of its name is an unknown one
 * (returned as '?', optopt 0, the token at argv[optind - 1]). */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int li = -1, ch = getopt_long(argc, argv, shortopts, longopts, &li);
	const char *tok, *eq;

	if (ch == -1 || li < 0)
		return ch;
	tok = argv[optind - 1];
	if (strncmp(tok, "--", 2) && optind >= 2)
		tok = argv[optind - 2];	/* the value came apart */
	eq = strchr(tok, '=');
	if (!strncmp(tok, "--", 2) &&
	    strlen(longopts[li].name) == (size_t)((eq ? eq : tok + strlen(tok)) - tok - 2))
		return ch;
	/* point the error at the token */
	if (argv[optind - 1] != tok)
		optind--;
	optopt = 0;
	return '?';
}

int cli_fail(const struct cli *c, const struct cerr *e)
{
	/* corrald's messages may quote what users sent (names, paths). */
	char b[4 * sizeof e->msg];

	fprintf(stderr, "corral: %s\n", fmt_text(e->msg, sizeof b - 1, b, sizeof b));
	return EXIT_CORRAL;
}

int cli_bad_option(const struct cli *c, int ch, char *const argv[])
{
	const char *arg = argv[optind - 1];

	if (ch == ':')
		return cli_usage(c, "option %s needs a value", arg);
	if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		return cli_usage(c, "unknown option -%c", optopt);
	return cli_usage(c, "unknown option %.*s", (int)strcspn(arg, "="), arg);
}

int cli_jobs(const struct cli *c, int argc, char **argv)
{
	if (argc - optind < 1)
		return cli_usage(c, "missing JOB");
	for (int i = optind; i < argc; i++)
		if (!argv[i][0] || strlen(argv[i]) > NAME_LEN_MAX)
			return cli_usage(c, "JOB must be 1 to %d bytes: \"%.80s\"",
					 NAME_LEN_MAX, argv[i]);
	return 0;
}

int cli_connect(const struct cli *c, struct corral_conn *conn, struct cerr *e)
{
	if (corral_connect(conn, corral_socket_path(c->socket), e) < 0)
		return -1;
	if (c->names_of_set)
		corral_names_of(conn, c->names_of);
	return 0;
}

enum { O_JSON = 256, O_ALL, O_USER, O_STATE, O_LIMIT, O_GRACE, O_DRY };

/* A plain value for a human column, escaped (fmt_text); "-" for none. */
static const char *col(const char *s, size_t width, char *buf, size_t len)
{
	return fmt_text(s ? s : "-", width, buf, len);
}

/* --- ps ---------------------------------------------------------------- */

static void ps_help(FILE *f)
{
	fputs("usage: corral ps [-a] [--user U] [--state S] [--limit N] [--json]\n"
	      "\n"
	      "List jobs, newest first.  By default only yours; -a asks for everyone's\n"
	      "(corrald honours it for admins only).\n"
	      "  -a, --all              all users' jobs\n"
	      "  --user U               only jobs of user U (name or uid)\n"
	      "  --state S              only jobs in state S, one of:\n"
	      "                        ", f);
	for (int s = 0; s < JS_COUNT; s++)
		fprintf(f, " %s", state_name((enum job_state)s));
	fputs("\n  --limit N              at most N jobs\n"
	      "  --json                 a JSON array of job records (see docs/cli.md)\n", f);
}

static const struct option ps_opts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "user", required_argument, NULL, O_USER },
	{ "state", required_argument, NULL, O_STATE },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "json", no_argument, NULL, O_JSON },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static int parse_user(const char *v, uint32_t *uid, struct cerr *e)
{
	struct passwd *pw = getpwnam(v);
	uint64_t n;

	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	if (parse_u64(v, &n, e) < 0 || n > 0xfffffffeu)
		return cerr_set(e, EINVAL, "--user: \"%s\" is neither a user name nor a uid", v);
	*uid = (uint32_t)n;
	return 0;
}

int cli_names_of(struct cli *c, const char *v)
{
	struct cerr e = { 0 };

	if (parse_user(v, &c->names_of, &e) < 0)
		return cli_usage(c, "%s", e.msg);
	c->names_of_set = true;
	return 0;
}

static int parse_limit(const char *v, uint32_t *out, struct cerr *e)
{
	uint64_t n;

	if (parse_u64(v, &n, e) < 0)
		return cerr_wrap(e, "--limit");
	if (n < 1 || n > 100000)
		return cerr_set(e, ERANGE, "--limit: \"%s\" is not between 1 and 100000", v);
	*out = (uint32_t)n;
	return 0;
}

static int ps_opt(struct corral_list_req *q, int ch, const char *v,
		  struct cerr *e)
{
	switch (ch) {
	case 'a':
		q->all = true;
		return 0;
	case O_USER:
		q->has_uid = true;
		return parse_user(v, &q->uid, e);
	case O_STATE:
		if (state_from_name(v) < 0)
			return cerr_set(e, EINVAL, "--state: \"%s\" is not a job state", v);
		q->state = v;
		return 0;
	case O_LIMIT:
		return parse_limit(v, &q->limit, e);
	}
	return cerr_set(e, EINVAL, "unhandled option");
}

struct ps_ctx {
	bool json;
	size_t n;
};

static int ps_row(void *ctx, const struct corral_job *j, struct cerr *e)
{
	struct ps_ctx *p = ctx;
	char user[24], ex[32], t[32], state[24], name[24], cmd[48], uidbuf[16];

	if (p->json) {
		fputs(p->n++ ? ",\n" : "[\n", stdout);
		json_job(stdout, j);
		return 0;
	}
	if (!p->n++)
		printf("%-8s  %-10s  %-9s  %-7s  %-19s  %-16s  %s\n", "ID", "USER",
		       "STATE", "EXIT", "CREATED", "NAME", "COMMAND");
	snprintf(uidbuf, sizeof uidbuf, "%u", j->uid);
	printf("%-8.8s  %-10s  %-9s  %-7s  %-19s  %-16s  %s\n", j->id,
	       col(j->user ? j->user : uidbuf, 10, user, sizeof user),
	       col(j->state, 9, state, sizeof state), fmt_exit(j, ex, sizeof ex),
	       fmt_time_ms(j->created_ms, t, sizeof t),
	       col(j->opt.s[OPT_NAME], 16, name, sizeof name),
	       fmt_command(j->argv, j->argc, 40, cmd, sizeof cmd));
	return 0;
}

static int cmd_ps(int argc, char **argv, struct cli *c)
{
	struct corral_list_req q = { 0 };
	struct ps_ctx p = { 0 };
	struct corral_conn conn;
	struct cerr e = { 0 };
	int ch, rc = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":ah", ps_opts)) != -1) {
		if (ch == 'h') {
			ps_help(stdout);
			return 0;
		}
		if (ch == 'S')
			c->socket = optarg;
		else if (ch == O_JSON)
			p.json = true;
		else if (ch == '?' || ch == ':')
			return cli_bad_option(c, ch, argv);
		else if (ps_opt(&q, ch, optarg, &e) < 0)
			return cli_usage(c, "%s", e.msg);
	}
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	if (corral_list(&conn, &q, ps_row, &p, &e) < 0)
		rc = cli_fail(c, &e);
	else if (p.json)
		fputs(p.n ? "\n]\n" : "[]\n", stdout);
	corral_close(&conn);
	return rc;
}

/* --- status ------------------------------------------------------------ */

static const char status_help[] =
"usage: corral status [--json] JOB\n"
"\n"
"Every recorded field of a job: who, what, limits, isolation, times,\n"
"how it ended, resources used, output stored.\n"
"  --json                 the job record as one JSON object\n";

/* The table's cgroup limits on one line, by their flag names. */
static void print_limits(const struct runopts *r)
{
	char v[300], b[1200];
	bool any = false;

	printf("%-13s", "limits:");
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		if (!runopt_defs[id].cgfile || !runopt_has(r, id))
			continue;
		runopt_format(r, id, v, sizeof v);
		printf("%s %s %s", any ? "," : "", runopt_defs[id].flag,
		       col(v, 256, b, sizeof b));
		any = true;
	}
	puts(any ? "" : " none");
}

/* The table's other options, a line each, labelled by their flags. */
static void print_options(const struct runopts *r)
{
	char v[PATH_LEN_MAX + 8], b[4 * PATH_LEN_MAX], label[32];

	for (unsigned id = 0; id < OPT_COUNT; id++) {
		if (runopt_defs[id].cgfile || !runopt_has(r, id))
			continue;
		runopt_format(r, id, v, sizeof v);
		snprintf(label, sizeof label, "%s:", runopt_defs[id].flag);
		printf("%-13s %s\n", label, col(v, PATH_LEN_MAX, b, sizeof b));
	}
}

static void print_io_val(const char *k, uint64_t v, bool bytes)
{
	char b[32];

	if (!v)
		printf(" %s=max", k);
	else if (bytes)
		printf(" %s=%s/s", k, fmt_size(v, b, sizeof b));
	else
		printf(" %s=%" PRIu64, k, v);
}

static void print_io(const struct runopts *l)
{
	for (size_t i = 0; i < l->nio; i++) {
		const struct io_limit *io = &l->io[i];
		printf("%-13s %u:%u", "io:", io->major, io->minor);
		print_io_val("rbps", io->rbps, true);
		print_io_val("wbps", io->wbps, true);
		print_io_val("riops", io->riops, false);
		print_io_val("wiops", io->wiops, false);
		putchar('\n');
	}
}

static void print_ns(uint32_t ns_off)
{
	printf("%-13s", "isolation:");
	for (unsigned i = 0; i < 5; i++)
		printf("%s %s %s", i ? "," : "", ns_name(i),
		       ns_off & (1u << i) ? "off" : "on");
	putchar('\n');
}

static void print_times(const struct corral_job *j)
{
	char b[64];
	uint64_t end;

	printf("%-13s %s\n", "created:", fmt_time_ms(j->created_ms, b, sizeof b));
	if (j->has_started)
		printf("%-13s %s\n", "started:", fmt_time_ms(j->started_ms, b, sizeof b));
	if (j->has_ended)
		printf("%-13s %s\n", "ended:", fmt_time_ms(j->ended_ms, b, sizeof b));
	if (!j->has_started)
		return;
	if (j->has_ended) {
		end = j->ended_ms;
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	printf("%-13s %s%s\n", "duration:",
	       fmt_duration(end > j->started_ms ? end - j->started_ms : 0, b, sizeof b),
	       j->has_ended ? "" : " (so far)");
}

static void print_end(const struct corral_job *j)
{
	char b[1100];

	if (j->has_exit_code)
		printf("%-13s %u\n", "exit code:", j->exit_code);
	if (j->has_signal)
		printf("%-13s %u (%s)\n", "signal:", j->signal,
		       fmt_signal(j->signal, b, sizeof b));
	if (j->has_oom)
		printf("%-13s %" PRIu64 "\n", "oom kills:", j->oom_kills);
	if (j->has_cpu)
		printf("%-13s %s s\n", "cpu time:", fmt_cpu_seconds(j->cpu_usec, b, sizeof b));
	if (j->has_peak)
		printf("%-13s %s\n", "memory peak:", fmt_size(j->memory_peak, b, sizeof b));
	if (j->error)
		printf("%-13s %s\n", "error:", col(j->error, 1024, b, sizeof b));
	if (j->stage != STAGE_NONE)
		printf("%-13s %s\n", "stage:", stage_name(j->stage));
	if (j->has_log_bytes || j->has_log_dropped)
		printf("%-13s %" PRIu64 " bytes stored, %" PRIu64 " dropped\n",
		       "output:", j->log_bytes, j->log_dropped);
	if (j->has_log_deleted)
		printf("%-13s deleted %s\n", "log:",
		       fmt_time_ms(j->log_deleted_ms, b, sizeof b));
}

static void print_status(const struct corral_job *j)
{
	char b[PATH_LEN_MAX + 8];

	printf("%-13s %s\n", "id:", j->id);
	printf("%-13s %s (uid %u)\n", "user:", j->user ? col(j->user, 64, b, sizeof b) : "?", j->uid);
	printf("%-13s %s\n", "state:", j->state);
	printf("%-13s %s\n", "command:", fmt_command(j->argv, j->argc, sizeof b - 1, b, sizeof b));
	printf("%-13s %s\n", "cwd:", col(j->cwd, PATH_LEN_MAX, b, sizeof b));
	for (size_t i = 0; i < j->nenv; i++)
		printf("%-13s %s\n", "env:", col(j->env[i], sizeof b - 1, b, sizeof b));
	print_limits(&j->opt);
	print_io(&j->opt);
	print_ns(j->ns_off);
	print_options(&j->opt);
	if (j->has_pid)
		printf("%-13s %u\n", "pid:", j->pid);
	print_times(j);
	print_end(j);
}

static const struct option json_opts[] = {
	{ "json", no_argument, NULL, O_JSON },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

/* Options of commands that take only --json (json NULL: not even that):
 * returns -1 to go on. */
static int json_only(int argc, char **argv, struct cli *c, const char *help,
		     bool *json)
{
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", json_opts)) != -1) {
		if (ch == 'h') {
			fputs(help, stdout);
			return 0;
		}
		if (ch == 'S')
			c->socket = optarg;
		else if (ch == O_JSON && json)
			*json = true;
		else if (ch == 'U' && cli_names_of(c, optarg) != 0)
			return EXIT_CORRAL;
		else if (ch != 'U')
			return cli_bad_option(c, ch, argv);
	}
	return -1;
}

static int cmd_status(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct corral_job job;
	struct cerr e = { 0 };
	bool json = false;
	const char *ref;
	int rc;

	if ((rc = json_only(argc, argv, c, status_help, &json)) >= 0)
		return rc;
	if (cli_jobs(c, argc, argv))
		return EXIT_CORRAL;
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	rc = 0;
	for (int i = optind; i < argc; i++) {
		ref = argv[i];
		if (corral_status(&conn, ref, &job, &e) < 0) {
			rc = cli_fail(c, &e);
			if (conn.fd < 0 && cli_connect(c, &conn, &e) < 0)
				return cli_fail(c, &e);
			continue;
		}
		if (json) {
			json_job(stdout, &job);
			fputc('\n', stdout);
		} else {
			if (i > optind)
				putchar('\n');
			print_status(&job);
		}
		corral_job_free(&job);
	}
	corral_close(&conn);
	return rc;
}

/* --- stop, kill ------------------------------------------------------------ */

static const char stop_help[] =
"usage: corral stop [--grace DUR] [--user U] JOB...\n"
"\n"
"Send SIGTERM to each job; if it is still there after the grace period\n"
"(corrald's default unless --grace, at most 1h), kill its whole cgroup.\n"
"A name means your newest job of that name still running (and not\n"
"being stopped already); a job that has ended is left alone (exit 0).\n"
"  --user U               names mean user U's jobs (admins)\n";

static const char kill_help[] =
"usage: corral kill [--user U] JOB...\n"
"\n"
"Kill every process of each job at once (cgroup.kill).\n"
"  --user U               names mean user U's jobs (admins)\n";

static const struct option stop_opts[] = {
	{ "grace", required_argument, NULL, O_GRACE },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static int stop_or_kill(int argc, char **argv, struct cli *c, bool kill)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	uint64_t grace = 0;
	bool has_grace = false;
	const char *ref;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", kill ? stop_opts + 1 : stop_opts)) != -1) {
		if (ch == 'h') {
			fputs(kill ? kill_help : stop_help, stdout);
			return 0;
		}
		if (ch == 'S') {
			c->socket = optarg;
		} else if (ch == 'U') {
			if (cli_names_of(c, optarg))
				return EXIT_CORRAL;
		} else if (ch == O_GRACE) {
			has_grace = true;
			if (parse_duration_ms(optarg, &grace, &e) < 0)
				return cli_usage(c, "--grace: %s", e.msg);
			if (grace > 3600000)
				return cli_usage(c, "--grace: \"%s\" is longer than 1h", optarg);
		} else {
			return cli_bad_option(c, ch, argv);
		}
	}
	if (cli_jobs(c, argc, argv))
		return EXIT_CORRAL;
	rc = 0;
	for (int i = optind; i < argc; i++) {
		ref = argv[i];
		if (cli_connect(c, &conn, &e) < 0)
			return cli_fail(c, &e);
		if ((kill ? corral_kill(&conn, ref, NULL, &e)
			  : corral_stop(&conn, ref, has_grace, grace, NULL, &e)) < 0)
			rc = cli_fail(c, &e);
		else if (conn.note[0])
			fprintf(stderr, "corral: %s\n", conn.note);
		corral_close(&conn);
	}
	return rc;
}

static int cmd_stop(int argc, char **argv, struct cli *c)
{
	return stop_or_kill(argc, argv, c, false);
}

static int cmd_kill(int argc, char **argv, struct cli *c)
{
	return stop_or_kill(argc, argv, c, true);
}

/* --- rm, prune ------------------------------------------------------------- */

static const char rm_help[] =
"usage: corral rm JOB...\n"
"\n"
"Delete ended jobs, their records and their logs, for good.  Your own\n"
"jobs; admins any.  A job that has not ended is refused (stop it first).\n"
"Exit status: 0 if every JOB was deleted, else 125.\n";

static int cmd_rm(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	char id[JOB_ID_LEN + 1];
	int rc = 0, r;

	if ((r = json_only(argc, argv, c, rm_help, NULL)) >= 0)
		return r;
	if (optind >= argc)
		return cli_usage(c, "missing JOB");
	for (int i = optind; i < argc; i++) {
		if (!argv[i][0] || strlen(argv[i]) > NAME_LEN_MAX) {
			rc = cli_usage(c, "JOB must be 1 to %d bytes", NAME_LEN_MAX);
			continue;
		}
		if (cli_connect(c, &conn, &e) < 0)
			return cli_fail(c, &e);
		if (corral_rm(&conn, argv[i], id, &e) < 0)
			rc = cli_fail(c, &e);
		corral_close(&conn);
	}
	return rc;
}

static const char prune_help[] =
"usage: corral prune [--dry-run]\n"
"\n"
"Apply corrald's retention rules now (corrald.conf: log_keep, log_space,\n"
"user_log_space, job_keep, audit_keep), as it does by itself every\n"
"minute, and say what was deleted.  Admins only.\n"
"  --dry-run              only say what would be deleted\n";

static const struct option prune_opts[] = {
	{ "dry-run", no_argument, NULL, O_DRY },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static int cmd_prune(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	char msg[256];
	bool dry = false;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", prune_opts)) != -1) {
		if (ch == 'h') {
			fputs(prune_help, stdout);
			return 0;
		}
		if (ch == 'S')
			c->socket = optarg;
		else if (ch == O_DRY)
			dry = true;
		else
			return cli_bad_option(c, ch, argv);
	}
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	rc = corral_prune(&conn, dry, msg, sizeof msg, &e);
	corral_close(&conn);
	if (rc < 0)
		return cli_fail(c, &e);
	puts(msg);
	return 0;
}

/* --- audit, whoami --------------------------------------------------------- */

static const char audit_help[] =
"usage: corral audit [--limit N] [--json]\n"
"\n"
"The audit log, newest first: every request corrald received, allowed or\n"
"denied.  Admins only (root and members of corral-admin).\n"
"  --limit N              at most N rows\n"
"  --json                 a JSON array of rows (see docs/cli.md)\n";

static const struct option audit_opts[] = {
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "json", no_argument, NULL, O_JSON },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static int audit_row(void *ctx, const struct corral_audit_row *r,
		     struct cerr *e)
{
	struct ps_ctx *p = ctx;
	char t[32], pid[16], act[40], out[40], det[200];

	if (p->json) {
		fputs(p->n++ ? ",\n" : "[\n", stdout);
		json_audit_row(stdout, r);
		return 0;
	}
	if (!p->n++)
		printf("%-19s  %-6s  %-7s  %-8s  %-8s  %-8s  %s\n", "TIME", "UID",
		       "PID", "ACTION", "JOB", "OUTCOME", "DETAIL");
	snprintf(pid, sizeof pid, r->has_pid ? "%u" : "-", r->pid);
	printf("%-19s  %-6u  %-7s  %-8s  %-8.8s  %-8s  %s\n",
	       fmt_time_ms(r->time_ms, t, sizeof t), r->uid, pid,
	       col(r->action, 32, act, sizeof act),
	       r->job_id && *r->job_id ? r->job_id : "-",
	       col(r->outcome, 32, out, sizeof out),
	       col(r->detail, 160, det, sizeof det));
	return 0;
}

static int cmd_audit(int argc, char **argv, struct cli *c)
{
	struct ps_ctx p = { 0 };
	struct corral_conn conn;
	struct cerr e = { 0 };
	uint32_t limit = 0;
	int ch, rc = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", audit_opts)) != -1) {
		if (ch == 'h') {
			fputs(audit_help, stdout);
			return 0;
		}
		if (ch == 'S')
			c->socket = optarg;
		else if (ch == O_JSON)
			p.json = true;
		else if (ch == O_LIMIT && parse_limit(optarg, &limit, &e) < 0)
			return cli_usage(c, "%s", e.msg);
		else if (ch != O_LIMIT)
			return cli_bad_option(c, ch, argv);
	}
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	if (corral_audit(&conn, limit, audit_row, &p, &e) < 0)
		rc = cli_fail(c, &e);
	else if (p.json)
		fputs(p.n ? "\n]\n" : "[]\n", stdout);
	corral_close(&conn);
	return rc;
}

static const char whoami_help[] =
"usage: corral whoami [--json]\n"
"\n"
"The uid corrald sees on this connection and whether it counts as admin.\n";

static int cmd_whoami(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	bool json = false, admin;
	struct passwd *pw;
	uint32_t uid;
	int rc;

	if ((rc = json_only(argc, argv, c, whoami_help, &json)) >= 0)
		return rc;
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	rc = corral_whoami(&conn, &uid, &admin, &e);
	corral_close(&conn);
	if (rc < 0)
		return cli_fail(c, &e);
	pw = getpwuid(uid);
	if (json) {
		printf("{\"uid\":%u,\"admin\":%s", uid, admin ? "true" : "false");
		if (pw) {
			fputs(",\"user\":", stdout);
			json_str(stdout, pw->pw_name);
		}
		puts("}");
	} else {
		printf("uid %u (%s)%s\n", uid, pw ? pw->pw_name : "?",
		       admin ? ", admin" : "");
	}
	return 0;
}

/* --- main --------------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli *c);
} commands[] = {
	{ "run", cmd_run }, { "ps", cmd_ps }, { "status", cmd_status },
	{ "logs", cmd_logs }, { "wait", cmd_wait }, { "stop", cmd_stop },
	{ "kill", cmd_kill }, { "audit", cmd_audit }, { "whoami", cmd_whoami },
	{ "rm", cmd_rm }, { "prune", cmd_prune },
};

static const struct option main_opts[] = {
	{ "version", no_argument, NULL, 'V' },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

/* Flush stdout and turn a failed write (full disk, closed pipe) into
 * corral's own error status. */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "corral: writing output: %s\n", strerror(errno));
		return rc ? rc : EXIT_CORRAL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { .cmd = NULL };
	int ch;

	opterr = 0;
	while ((ch = cli_getopt(argc, argv, "+:hV", main_opts)) != -1) {
		switch (ch) {
		case 'h': fputs(main_help, stdout); return finish(0);
		case 'V': printf("corral %s\n", CORRAL_VERSION); return finish(0);
		case 'S': c.socket = optarg; break;
		default:
			cli_bad_option(&c, ch, argv);
			return EXIT_CORRAL;
		}
	}
	if (optind >= argc) {
		fputs(main_help, stderr);
		return EXIT_CORRAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		c.cmd = commands[i].name;
		return finish(commands[i].fn(argc - optind, argv + optind, &c));
	}
	fprintf(stderr, "corral: unknown command \"%s\" (see corral --help)\n",
		argv[optind]);
	return EXIT_CORRAL;
}
