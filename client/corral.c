/* corral: the command-line client.  See docs/cli.md. */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "parse.h"

static const char main_help[] =
"usage: corral [--host URL] [--socket PATH] COMMAND [ARGS...]\n"
"       corral --help | --version\n"
"\n"
"Run commands as jobs with resource limits, through corrald.\n"
"\n"
"Commands:\n"
"  run [OPTIONS] [--] CMD [ARG...]       run a job (attached, or -d)\n"
"  ps [OPTIONS]                          list jobs (-a, -q, --state, --name)\n"
"  status [--json] JOB...                everything known about jobs\n"
"  logs [-f] [--stdout|--stderr] JOB...  jobs' output\n"
"  wait [--json] JOB...                  wait for jobs, exit like them\n"
"  stop [--grace DUR] JOB...             SIGTERM, then kill after the grace\n"
"  kill [-s SIG] JOB...                  kill the jobs (cgroup.kill), or signal them\n"
"  rm JOB...                             delete ended jobs and their logs\n"
"  prune [--dry-run]                     apply retention now (admins)\n"
"  audit [OPTIONS]                       the audit log (admins)\n"
"  whoami [--json]                       who corrald thinks you are\n"
"  dial-stdio                            the far end of --host (not typed)\n"
"\n"
"JOB is a job id, a unique id prefix (4+ characters) or the name of one\n"
"of your jobs (admins name another user's with --user U).\n"
"The socket is --socket, else $CORRAL_SOCKET, else " DEFAULT_SOCKET ".\n"
"--host ssh://[user@]host[:port] (else $CORRAL_HOST) runs the command on\n"
"that host's corrald over ssh, as that user; --socket then names its\n"
"socket there (see docs/remote.md).\n"
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

bool cli_common_opt(struct cli *c, int ch)
{
	if (ch == 'S')
		c->socket = optarg;
	else if (ch == 'H')
		c->host = optarg;
	return ch == 'S' || ch == 'H';
}

/* A --user name was looked up in this machine's passwd: on another host
 * the same name may be another uid, so cli_connect refuses it there. */
static bool user_named_here;

static const char *remote_host(const struct cli *c)
{
	const char *host = c->host ? c->host : getenv("CORRAL_HOST");

	return host && *host ? host : NULL;
}

bool cli_remote(const struct cli *c)
{
	return remote_host(c) != NULL;
}

int cli_connect(const struct cli *c, struct corral_conn *conn, struct cerr *e)
{
	const char *host = remote_host(c);
	int rc;

	if (host && user_named_here)
		return cerr_set(e, EINVAL,
				"--user: a name means a user of this machine; with --host give the uid on the far side");
	/* Only an explicit --socket goes to the far side: $CORRAL_SOCKET
	 * is this machine's. */
	if (host)
		rc = corral_connect_ssh(conn, host, c->socket, e);
	else
		rc = corral_connect(conn, corral_socket_path(c->socket), e);
	if (rc < 0)
		return -1;
	if (c->names_of_set)
		corral_names_of(conn, c->names_of);
	return 0;
}

enum { O_JSON = 256, O_GRACE, O_DRY };

/* A plain value for a human column, escaped (fmt_text); "-" for none. */
static const char *col(const char *s, size_t width, char *buf, size_t len)
{
	return fmt_text(s ? s : "-", width, buf, len);
}

/* --- job references ------------------------------------------------------ */

int cli_parse_user(const char *v, uint32_t *uid, struct cerr *e)
{
	struct passwd *pw = getpwnam(v);
	uint64_t n;

	if (pw) {
		*uid = pw->pw_uid;
		user_named_here = true;
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

	if (cli_parse_user(v, &c->names_of, &e) < 0)
		return cli_usage(c, "%s", e.msg);
	c->names_of_set = true;
	return 0;
}

/* --- status ------------------------------------------------------------ */

static const char status_help[] =
"usage: corral status [--json] [--user U] JOB...\n"
"\n"
"Every recorded field of each job: who, what, limits, isolation, times,\n"
"how it ended, resources used, output stored (so far, while it runs).\n"
"  --json                 the job record as one JSON object per job\n"
"  --user U               names mean user U's jobs (admins)\n";

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
	/* cpu time is always measured; the memory figures need the memory
	 * controller: "-" when the kernel did not count them. */
	if (j->has_oom)
		printf("%-13s %" PRIu64 "\n", "oom kills:", j->oom_kills);
	else if (j->has_cpu)
		printf("%-13s -\n", "oom kills:");
	if (j->has_cpu)
		printf("%-13s %s s\n", "cpu time:", fmt_cpu_seconds(j->cpu_usec, b, sizeof b));
	if (j->has_peak)
		printf("%-13s %s\n", "memory peak:", fmt_size(j->memory_peak, b, sizeof b));
	else if (j->has_cpu)
		printf("%-13s - (not measured)\n", "memory peak:");
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
	if (j->after)
		printf("%-13s %s%s\n", "after:", j->after,
		       j->after_ok ? " (if it exits 0)" : "");
	if (j->position)
		printf("%-13s %u\n", "position:", j->position);
	if (j->net_address)
		printf("%-13s %s, MAC %s\n", "address:", j->net_address,
		       j->net_mac ? j->net_mac : "?");
	if (j->waiting)
		printf("%-13s %s\n", "waiting:", col(j->waiting, 1024, b, sizeof b));
	if (j->has_pid)
		printf("%-13s %u\n", "pid:", j->pid);
	print_times(j);
	print_end(j);
}

static const struct option json_ref_opts[] = {
	CLI_REF_OPTS,
	{ "json", no_argument, NULL, O_JSON },
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};
static const struct option *const json_opts = json_ref_opts + 1;	/* no --user */

int cli_json_only(int argc, char **argv, struct cli *c, const char *help,
		  bool *json, bool refs)
{
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", refs ? json_ref_opts : json_opts)) != -1) {
		if (ch == 'h') {
			fputs(help, stdout);
			return 0;
		}
		if (cli_common_opt(c, ch))
			continue;
		if (ch == O_JSON && json)
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

	if ((rc = cli_json_only(argc, argv, c, status_help, &json, true)) >= 0)
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
"Send SIGTERM (then SIGCONT) to every process of each job; if it is still\n"
"there after the grace period (corrald's default unless --grace, at most\n"
"1h), kill its whole cgroup.\n"
"A name means your newest job of that name still running (and not\n"
"being stopped already); a job that has ended is left alone (exit 0).\n"
"  --grace DUR            how long SIGTERM has before the kill (30s, 1m30s)\n"
"  --user U               names mean user U's jobs (admins)\n";

static const char kill_help[] =
"usage: corral kill [-s SIG] [--user U] JOB...\n"
"\n"
"Kill every process of each job at once (cgroup.kill).\n"
"  -s, --signal SIG       send SIG to every process of each job instead\n"
"                         (TERM, USR1, SIGHUP, 10, RTMIN+1; KILL is the\n"
"                         plain kill); the job decides what it does with it\n"
"  --user U               names mean user U's jobs (admins)\n";

static const struct option stop_opts[] = {
	{ "grace", required_argument, NULL, O_GRACE },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

static const struct option kill_opts[] = {
	{ "signal", required_argument, NULL, 's' },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

/* One STOP, KILL or KILL with a signal (sig 0: none). */
static int stop_one(struct corral_conn *conn, const char *ref, bool kill,
		    int sig, bool has_grace, uint64_t grace, struct cerr *e)
{
	if (kill && sig && sig != SIGKILL)
		return corral_signal(conn, ref, sig, false, NULL, e);
	if (kill)
		return corral_kill(conn, ref, NULL, e);
	return corral_stop(conn, ref, has_grace, grace, NULL, e);
}

static int stop_or_kill(int argc, char **argv, struct cli *c, bool kill)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	uint64_t grace = 0;
	bool has_grace = false;
	const char *ref;
	int ch, rc, sig = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, kill ? ":hs:" : ":h",
				kill ? kill_opts : stop_opts)) != -1) {
		if (ch == 'h') {
			fputs(kill ? kill_help : stop_help, stdout);
			return 0;
		}
		if (cli_common_opt(c, ch)) {
			continue;
		} else if (ch == 'U') {
			if (cli_names_of(c, optarg))
				return EXIT_CORRAL;
		} else if (ch == 's') {
			if (parse_signal(optarg, &sig, &e) < 0 ||
			    (sig != SIGKILL && signal_check_sig(sig, false, &e) < 0))
				return cli_usage(c, "--signal: %s", e.msg);
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
		if (stop_one(&conn, ref, kill, sig, has_grace, grace, &e) < 0)
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
"usage: corral rm [--user U] JOB...\n"
"\n"
"Delete ended jobs, their records and their logs, for good.  Your own\n"
"jobs; admins any.  A job that has not ended is refused (stop it first).\n"
"  --user U               names mean user U's jobs (admins)\n"
"Exit status: 0 if every JOB was deleted, else 125.\n";

static int cmd_rm(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	char id[JOB_ID_LEN + 1];
	int rc = 0, r;

	if ((r = cli_json_only(argc, argv, c, rm_help, NULL, true)) >= 0)
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
		if (cli_common_opt(c, ch))
			continue;
		if (ch == O_DRY)
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

/* --- whoami ---------------------------------------------------------------- */

static const char whoami_help[] =
"usage: corral whoami [--json]\n"
"\n"
"The uid corrald sees on this connection and whether it counts as admin.\n"
"  --json                 as a JSON object\n";

static int cmd_whoami(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	bool json = false, admin;
	struct passwd *pw;
	uint32_t uid;
	int rc;

	if ((rc = cli_json_only(argc, argv, c, whoami_help, &json, false)) >= 0)
		return rc;
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	rc = corral_whoami(&conn, &uid, &admin, &e);
	corral_close(&conn);
	if (rc < 0)
		return cli_fail(c, &e);
	/* This machine's name for a uid of another is no name at all. */
	pw = cli_remote(c) ? NULL : getpwuid(uid);
	if (json) {
		printf("{\"uid\":%u,\"admin\":%s", uid, admin ? "true" : "false");
		if (pw) {
			fputs(",\"user\":", stdout);
			json_str(stdout, pw->pw_name);
		}
		puts("}");
	} else if (pw || !cli_remote(c)) {
		printf("uid %u (%s)%s\n", uid, pw ? pw->pw_name : "?",
		       admin ? ", admin" : "");
	} else {
		printf("uid %u%s\n", uid, admin ? ", admin" : "");
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
	{ "dial-stdio", cmd_dial_stdio },
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
		case 'S':
		case 'H': cli_common_opt(&c, ch); break;
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
