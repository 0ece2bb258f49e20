/* corral run, logs, wait: the commands that stream a job. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "parse.h"

static const char run_usage[] =
"usage: corral run [LIMITS] [OPTIONS] [--] CMD [ARG...]\n"
"\n"
"Run CMD as a corral job.  Attached (the default), its stdout and stderr\n"
"are streamed here until it ends and corral exits like the job; between\n"
"the two, in the order corrald read them (--merge: exactly the job's).\n"
"Past a cap on running jobs it waits in corrald's queue first (\"queued\").\n"
"\n"
"Limits and options:\n";

static const char run_help_tail[] =
"  --io-read-bps DEV=RATE   --io-write-bps DEV=RATE   (RATE: 10M = 10 MiB/s)\n"
"  --io-read-iops DEV=N     --io-write-iops DEV=N\n"
"                         DEV: vda, /dev/vda or MAJ:MIN; repeatable\n"
"  -E, --env VAR=VALUE    set a variable; -E VAR passes this shell's VAR\n"
"                         (an error if unset); repeatable.  The job gets ONLY\n"
"                         these, plus PATH=/usr/local/bin:/usr/bin:/bin\n"
"                         unless PATH is given, and USER, LOGNAME, HOME and\n"
"                         SHELL from the user's passwd entry unless given\n"
"  --cwd DIR              absolute working directory (default: current)\n"
"  --no-net --no-pid --no-mount --no-uts --no-ipc\n"
"                         share that namespace with the host (policy allowing)\n"
"  --after JOB            start only once JOB has ended (queued until then)\n"
"  --after-ok JOB         start only if JOB exits 0; else it is cancelled\n"
"  --no-queue             fail at once (126) instead of waiting for a slot\n"
"  -d, --detach           print the job id and exit 0 without waiting (for\n"
"                         the start either, if the job is queued)\n"
"  -q, --quiet            attached: do not print \"Running as job ID\" or\n"
"                         \"queued (position N)\" on stderr\n"
"  --json                 with -d: print {\"id\":\"...\"}\n"
"  --socket PATH          corrald's socket\n"
"  --host URL             corrald on another host: ssh://[user@]host[:port]\n"
"\n"
"Exit status: the job's exit code; 128+N if signal N ended it; 124 if\n"
"its --timeout ran out;\n"
"125 corral or corrald failed (usage, connection, a request corrald\n"
"refused, job lost); 126 the job was accepted but could not start (the\n"
"helper's policy refused it, or a start stage failed: the status names\n"
"which); 127 the command was not found.\n"
"Ctrl-C (SIGINT) goes to the job's foreground process group, as in a\n"
"terminal; a second Ctrl-C stops the job, a third kills it.  SIGTERM to\n"
"corral stops the job, a second kills it.  When corral goes away (a\n"
"hang-up, SIGHUP, or its output closed: `corral run -- yes | head`),\n"
"the job gets SIGHUP and is stopped; -d jobs are not tied to corral.\n";

/* The options of runopt.def, one line each, then the fixed ones. */
static void run_help(FILE *f)
{
	fputs(run_usage, f);
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		const struct runopt_def *d = &runopt_defs[id];
		char lhs[64];

		snprintf(lhs, sizeof lhs, "--%s%s%s", d->flag, d->meta[0] ? " " : "",
			 d->meta);
		fprintf(f, "  %-22s %s\n", lhs, d->help);
	}
	fputs(run_help_tail, f);
}

static const char logs_help[] =
"usage: corral logs [-f] [--stdout|--stderr] [--user U] JOB...\n"
"\n"
"Print a job's output from the start: stdout to stdout, stderr to stderr,\n"
"corrald's notes to stderr as \"corral: ...\".\n"
"  -f, --follow           keep going until the job ends\n"
"  --stdout, --stderr     only that stream (no notes)\n"
"  --user U               names mean user U's jobs (admins)\n"
"JOB is an id, a unique id prefix (4+ characters) or a name.\n"
"Exit status: 0, or 125 on error.\n";

static const char wait_help[] =
"usage: corral wait [--json] [--user U] JOB...\n"
"\n"
"Wait for each job to end and exit like the first one that did not exit\n"
"0 (0 if all did; see corral run --help for the codes).\n"
"  --json                 also print each final job record as JSON\n"
"  --user U               names mean user U's jobs (admins)\n";

/* --- output ------------------------------------------------------------ */

int write_full(int fd, const void *buf, size_t len, struct cerr *e)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				return cerr_sys(e, "poll on fd %d", fd);
			continue;
		}
		if (n < 0)
			return cerr_sys(e, "writing to fd %d", fd);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cli_write_log(void *ctx, uint32_t stream, uint64_t time_ms,
		  const uint8_t *data, size_t len, struct cerr *e)
{
	if (stream == STREAM_STDOUT)
		return write_full(STDOUT_FILENO, data, len, e);
	if (stream == STREAM_STDERR)
		return write_full(STDERR_FILENO, data, len, e);
	/* The gap note is padded to a fixed length, to be rewritten in place. */
	while (len && data[len - 1] == ' ')
		len--;
	if (write_full(STDERR_FILENO, "corral: ", 8, e) < 0 ||
	    write_full(STDERR_FILENO, data, len, e) < 0)
		return -1;
	if (len == 0 || data[len - 1] != '\n')
		return write_full(STDERR_FILENO, "\n", 1, e);
	return 0;
}

/* --- parsing run's options -------------------------------------------- */

enum {
	O_IO_RBPS = 256, O_IO_WBPS, O_IO_RIOPS, O_IO_WIOPS, O_CWD,
	O_NO_NET, O_NO_PID, O_NO_MOUNT, O_NO_UTS, O_NO_IPC, O_JSON,
	O_AFTER, O_AFTER_OK, O_NO_QUEUE,
	O_RUNOPT = 512,		/* + OPT_x: the table's options */
};

static const struct option fixed_opts[] = {
	{ "io-read-bps", required_argument, NULL, O_IO_RBPS },
	{ "io-write-bps", required_argument, NULL, O_IO_WBPS },
	{ "io-read-iops", required_argument, NULL, O_IO_RIOPS },
	{ "io-write-iops", required_argument, NULL, O_IO_WIOPS },
	{ "env", required_argument, NULL, 'E' },
	{ "cwd", required_argument, NULL, O_CWD },
	{ "no-net", no_argument, NULL, O_NO_NET },
	{ "no-pid", no_argument, NULL, O_NO_PID },
	{ "no-mount", no_argument, NULL, O_NO_MOUNT },
	{ "no-uts", no_argument, NULL, O_NO_UTS },
	{ "no-ipc", no_argument, NULL, O_NO_IPC },
	{ "detach", no_argument, NULL, 'd' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, O_JSON },
	{ "after", required_argument, NULL, O_AFTER },
	{ "after-ok", required_argument, NULL, O_AFTER_OK },
	{ "no-queue", no_argument, NULL, O_NO_QUEUE },
	CLI_COMMON_OPTS,
};

/* getopt's table: the fixed options, then one per runopt.def row. */
static const struct option *run_opts(void)
{
	static struct option all[ARRAY_SIZE(fixed_opts) + OPT_COUNT + 1];

	memcpy(all, fixed_opts, sizeof fixed_opts);
	for (unsigned id = 0; id < OPT_COUNT; id++)
		all[ARRAY_SIZE(fixed_opts) + id] = (struct option){
			runopt_defs[id].flag,
			runopt_defs[id].type == RT_FLAG ? no_argument : required_argument,
			NULL, O_RUNOPT + (int)id };
	return all;
}

struct run_opts {
	struct corral_run_req req;
	const char *env[ENV_MAX + 1];
	size_t nenv;
	char *own[ENV_MAX];	/* -E VAR: "VAR=value" made here */
	size_t nown;
	bool detach, json, help, quiet;
	char cwd[PATH_LEN_MAX];
};

/* -E VAR=VALUE sets one; -E VAR passes the caller's own VAR, and an
 * unset one is an error (a job quietly without it is harder to debug). */
static int opt_env(struct run_opts *o, const char *v, struct cerr *e)
{
	const char *eq = strchr(v, '='), *val;
	size_t klen = eq ? (size_t)(eq - v) : strlen(v);

	if (!env_name_valid(v, klen))
		return cerr_set(e, EINVAL,
				"-E/--env: \"%.*s\" is not a variable name (a letter or _, then letters, digits and _)",
				(int)(klen < 64 ? klen : 64), v);
	if (o->nenv >= ENV_MAX - 16)
		return cerr_set(e, E2BIG, "-E/--env: more than %d variables",
				ENV_MAX - 16);
	if (!eq) {
		if (!(val = getenv(v)))
			return cerr_set(e, ENOENT, "-E %s: %s is not set here (give -E %s=VALUE)",
					v, v, v);
		if (asprintf(&o->own[o->nown], "%s=%s", v, val) < 0)
			return cerr_sys(e, "-E %s", v);
		v = o->own[o->nown++];
	}
	if (strlen(v) > ENV_LEN_MAX)
		return cerr_set(e, E2BIG, "-E/--env: an entry is longer than %d bytes",
				ENV_LEN_MAX);
	o->env[o->nenv++] = v;
	return 0;
}

static int opt_path(const char *flag, const char *v, struct cerr *e)
{
	if (v[0] != '/')
		return cerr_set(e, EINVAL, "%s: \"%s\" is not an absolute path", flag, v);
	if (strlen(v) >= PATH_LEN_MAX)
		return cerr_set(e, ENAMETOOLONG, "%s: path longer than %d bytes",
				flag, PATH_LEN_MAX - 1);
	return 0;
}

static int opt_one(struct run_opts *o, int ch, const char *v, struct cerr *e)
{
	struct runopts *r = &o->req.opt;

	if (ch >= O_RUNOPT && ch < O_RUNOPT + OPT_COUNT) {
		unsigned id = (unsigned)(ch - O_RUNOPT);
		if (runopt_parse(r, id, v, e) < 0)
			return cerr_wrap(e, "--%s", runopt_defs[id].flag);
		return 0;
	}
	switch (ch) {
	case O_IO_RBPS:
		return io_spec_merge(r, "--io-read-bps", IO_RBPS, v, io_resolve_dev, e);
	case O_IO_WBPS:
		return io_spec_merge(r, "--io-write-bps", IO_WBPS, v, io_resolve_dev, e);
	case O_IO_RIOPS:
		return io_spec_merge(r, "--io-read-iops", IO_RIOPS, v, io_resolve_dev, e);
	case O_IO_WIOPS:
		return io_spec_merge(r, "--io-write-iops", IO_WIOPS, v, io_resolve_dev, e);
	case 'E':
		return opt_env(o, v, e);
	case O_CWD:
		if (opt_path("--cwd", v, e) < 0)
			return -1;
		snprintf(o->cwd, sizeof o->cwd, "%s", v);
		return 0;
	case O_NO_NET: o->req.ns_off |= NS_NET; return 0;
	case O_NO_PID: o->req.ns_off |= NS_PID; return 0;
	case O_NO_MOUNT: o->req.ns_off |= NS_MNT; return 0;
	case O_NO_UTS: o->req.ns_off |= NS_UTS; return 0;
	case O_NO_IPC: o->req.ns_off |= NS_IPC; return 0;
	case 'd': o->detach = true; return 0;
	case 'q': o->quiet = true; return 0;
	case O_JSON: o->json = true; return 0;
	case O_AFTER:
	case O_AFTER_OK:
		if (!*v || strlen(v) > NAME_LEN_MAX)
			return cerr_set(e, EINVAL, "--%s: a job reference is 1 to %d bytes",
					ch == O_AFTER ? "after" : "after-ok", NAME_LEN_MAX);
		if (o->req.after)
			return cerr_set(e, EINVAL, "--after and --after-ok: one job only");
		o->req.after = v;
		o->req.after_ok = ch == O_AFTER_OK;
		return 0;
	case O_NO_QUEUE: o->req.no_queue = true; return 0;
	}
	return cerr_set(e, EINVAL, "unhandled option");
}

static int check_argv(char **argv, int n, struct cerr *e)
{
	if (n < 1)
		return cerr_set(e, EINVAL, "no command given");
	if (n > ARGV_MAX)
		return cerr_set(e, E2BIG, "more than %d arguments", ARGV_MAX);
	for (int i = 0; i < n; i++)
		if (strlen(argv[i]) > ARG_LEN_MAX)
			return cerr_set(e, E2BIG, "argument %d is longer than %d bytes",
					i, ARG_LEN_MAX);
	if (!argv[0][0])
		return cerr_set(e, EINVAL, "the command is an empty string");
	return 0;
}

/* Fill o from argv; returns 0, or an exit status (usage error / help). */
static int parse_run(int argc, char **argv, struct cli *c, struct run_opts *o)
{
	struct cerr e = { 0 };
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, "+:dqhE:it", run_opts())) != -1) {
		if (ch == 'i')
			ch = O_RUNOPT + OPT_INTERACTIVE;
		if (ch == 't')
			ch = O_RUNOPT + OPT_TTY;
		if (ch == 'h') {
			run_help(stdout);
			o->help = true;
			return 0;
		}
		if (cli_common_opt(c, ch))
			continue;
		if (ch == '?' || ch == ':')
			return cli_bad_option(c, ch, argv);
		if (opt_one(o, ch, optarg, &e) < 0)
			return cli_usage(c, "%s", e.msg);
	}
	if (check_argv(argv + optind, argc - optind, &e) < 0)
		return cli_usage(c, "%s", e.msg);
	if (runopt_has(&o->req.opt, OPT_TTY)) {
		/* -t implies -i; and a terminal program needs TERM. */
		runopt_parse(&o->req.opt, OPT_INTERACTIVE, "", &e);
		term_env_defaults(o->env, &o->nenv, ENV_MAX - 16);
		term_size(&o->req.rows, &o->req.cols);
	}
	if (o->detach && runopt_has(&o->req.opt, OPT_INTERACTIVE))
		return cli_usage(c, "-i and -t need an attached run: drop -d");
	if (o->json && !o->detach)
		return cli_usage(c, "--json needs -d (attached output is the job's own)");
	if (o->req.after && o->req.no_queue)
		return cli_usage(c, "--no-queue cannot wait for another job (--after)");
	if (!o->cwd[0] && !getcwd(o->cwd, sizeof o->cwd))
		return cli_usage(c, "cannot get the current directory (use --cwd): %s",
				 strerror(errno));
	o->req.argv = (const char *const *)(argv + optind);
	o->req.argc = (size_t)(argc - optind);
	o->req.env = o->env;
	o->req.nenv = o->nenv;
	o->req.cwd = o->cwd;
	return 0;
}

/* --- interrupts while attached ----------------------------------------- */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	/* the pipe is non-blocking: a full pipe already says enough */
	if (write(sig_pipe[1], &b, 1) < 0) {
	}
	errno = saved;
}

static int install_signals(struct cerr *e)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return cerr_sys(e, "pipe");
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return cerr_sys(e, "sigaction");
	return 0;
}

/* What the interrupts so far ask for, in increasing order. */
enum { ACT_NONE, ACT_INT, ACT_STOP, ACT_KILL };

struct attach {
	const struct cli *cli;
	struct corral_conn *conn;
	bool winch;			/* the terminal's size changed */
	char id[JOB_ID_LEN + 1];	/* "" until STARTED */
	unsigned nint, nterm;		/* SIGINTs and SIGTERMs seen */
	unsigned acted;			/* ACT_*: the last one done */
	bool queued;			/* waiting in corrald's queue */
	bool quiet;
	int wake;			/* wake_set()'s epoll fd */
};

/* As a terminal: the first Ctrl-C is the job's (SIGINT to its foreground
 * group), the second stops it, the third kills it.  SIGTERM to corral
 * stops the job at once, a second kills it.  A queued job has nobody to
 * interrupt: the first of either cancels it. */
static unsigned wanted(const struct attach *a)
{
	unsigned by_int = a->nint > 2 ? ACT_KILL : a->nint;
	unsigned by_term = a->nterm > 1 ? ACT_KILL : a->nterm ? ACT_STOP : ACT_NONE;
	unsigned w = by_int > by_term ? by_int : by_term;

	return a->queued && w == ACT_INT ? ACT_STOP : w;
}

static int act(struct corral_conn *conn, const struct attach *a, unsigned want,
	       struct cerr *e)
{
	if (want == ACT_INT)
		return corral_signal(conn, a->id, SIGINT, true, NULL, e);
	if (want == ACT_STOP)
		return corral_stop(conn, a->id, false, 0, NULL, e);
	return corral_kill(conn, a->id, NULL, e);
}

/* Send the signal, STOP or KILL on a connection of its own: the main
 * one is busy with the reply stream. */
static void escalate(struct attach *a)
{
	unsigned want = wanted(a);
	struct corral_conn conn;
	struct cerr e = { 0 };

	if (!a->id[0] || want <= a->acted)
		return;
	a->acted = want;
	if (want == ACT_STOP)
		fprintf(stderr, "corral: stopping job %s (interrupt again to kill it)\n", a->id);
	else if (want == ACT_KILL)
		fprintf(stderr, "corral: killing job %s\n", a->id);
	if (cli_connect(a->cli, &conn, &e) < 0) {
		cli_fail(a->cli, &e);
		return;
	}
	if (act(&conn, a, want, &e) < 0)
		cli_fail(a->cli, &e);
	corral_close(&conn);
}

/* A hang-up (the terminal closed: SIGHUP) or our output closed (SIGPIPE,
 * as `yes` would get on its next write) ends corral as it ends a local
 * process; corrald sees the connection go and hangs up the job. */
static void hang_up(int sig)
{
	term_restore();		/* -t: the terminal as it was, first */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* What corral's loop polls while attached: an epoll set of the signal
 * pipe and stdout.  stdout reports EPOLLERR once nobody reads it (a pipe
 * whose reader is gone: `corral run -- cmd | head -1` while cmd is
 * silent) and EPOLLHUP when a terminal hangs up.  A file or /dev/null
 * cannot be watched (EPERM) and never closes. */
static int wake_set(struct cerr *e)
{
	struct epoll_event sig = { .events = EPOLLIN, .data.fd = sig_pipe[0] };
	struct epoll_event out = { .events = 0, .data.fd = STDOUT_FILENO };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sig_pipe[0], &sig) < 0) {
		cerr_sys(e, "epoll");
		if (ep >= 0)
			close(ep);
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, STDOUT_FILENO, &out);	/* if it can */
	return ep;
}

static void on_wake(void *ctx)
{
	struct attach *a = ctx;
	struct epoll_event ev[2];
	unsigned char b[64];
	ssize_t n;
	int k = epoll_wait(a->wake, ev, 2, 0);

	for (int i = 0; i < k; i++)
		if (ev[i].data.fd == STDOUT_FILENO)
			hang_up(SIGPIPE);
	while ((n = read(sig_pipe[0], b, sizeof b)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == SIGHUP)
				hang_up(SIGHUP);
			a->winch |= b[i] == SIGWINCH;
			a->nint += b[i] == SIGINT;
			a->nterm += b[i] == SIGTERM;
		}
	if (a->winch) {
		struct cerr e;
		a->winch = false;
		if (term_send_size(a->conn, &e) < 0)
			cli_fail(a->cli, &e);
	}
	escalate(a);
}

/* Attached and queued: say so, and let an interrupt cancel it. */
static bool attached_queued(void *ctx, const char *id, uint32_t position,
			    const char *waiting)
{
	struct attach *a = ctx;

	if (id != a->id)
		snprintf(a->id, sizeof a->id, "%s", id);
	a->queued = true;
	if (!a->quiet) {
		if (position)
			fprintf(stderr, "corral: job %s queued (position %u)%s%s\n", id,
				position, waiting ? ": " : "", waiting ? waiting : "");
		else
			fprintf(stderr, "corral: job %s queued: %s\n", id,
				waiting ? waiting : "waiting");
	}
	escalate(a);	/* interrupted before this */
	return false;
}

/* Detached: the id of a queued job is the answer. */
static bool detached_queued(void *ctx, const char *id, uint32_t position,
			    const char *waiting)
{
	return true;
}

/* --- riding over a reload or restart of corrald --------------------------- */

#define RECONNECT_MS 30000
#define RECONNECT_STEP_US 200000

static int64_t mono_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A live FOLLOW whose connection drops before the job's final record
 * (corrald restarted, or crashed and came back) connects again, for up
 * to 30 s, and goes on from the log byte it had: every byte once, then
 * the end.  Only when every stream is wanted (or none, for wait) does
 * the byte count received match the log's offsets; a refusal (ERROR)
 * is never retried. */
static int follow_riding(struct cli *c, struct corral_conn *conn,
			 const char *ref, uint32_t streams,
			 corral_log_fn fn, void *ctx, struct corral_job *job,
			 struct cerr *e)
{
	const uint32_t all = STREAM_STDOUT | STREAM_STDERR | STREAM_META;
	uint64_t from = 0;
	int64_t until = 0;

	while (corral_follow_from(conn, ref, streams, true, from, fn, ctx, job, e) < 0) {
		struct corral_conn old = *conn;

		if (conn->remote_error || (streams && streams != all))
			return -1;
		from = conn->log_off;
		if (!until) {
			until = mono_now_ms() + RECONNECT_MS;
			fprintf(stderr, "corral: lost corrald (%s); reconnecting\n", e->msg);
		}
		corral_close(conn);
		do {
			if (mono_now_ms() >= until)
				return cerr_set(e, ETIMEDOUT, "corrald did not come back within %d s",
						RECONNECT_MS / 1000);
			usleep(RECONNECT_STEP_US);
		} while (cli_connect(c, conn, e) < 0);
		conn->wake_fd = old.wake_fd;
		conn->on_wake = old.on_wake;
		conn->wake_ctx = old.wake_ctx;
	}
	return 0;
}

/* -i: stdin goes to the job while we follow it; -t: our terminal too,
 * raw, and its size now and on every SIGWINCH. */
static int start_input(struct corral_conn *conn, const struct run_opts *o,
		       struct cerr *e)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	conn->in_fd = STDIN_FILENO;
	conn->on_in = term_pump;
	conn->in_ctx = conn;
	if (!runopt_has(&o->req.opt, OPT_TTY) || !isatty(STDIN_FILENO))
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGWINCH, &sa, NULL) < 0)
		return cerr_sys(e, "sigaction");
	if (term_send_size(conn, e) < 0)
		return -1;
	return term_raw(e);
}

static int run_attached(struct corral_conn *conn, struct run_opts *o,
			struct cli *c)
{
	struct attach a = { .cli = c, .conn = conn, .quiet = o->quiet };
	struct corral_job job;
	struct cerr e = { 0 };
	_cleanup_close_ int wake = -1;
	int rc;

	if (install_signals(&e) < 0 || (wake = wake_set(&e)) < 0)
		return cli_fail(c, &e);
	a.wake = wake;
	conn->wake_fd = wake;
	conn->on_wake = on_wake;
	conn->wake_ctx = &a;
	o->req.on_queued = attached_queued;
	o->req.queued_ctx = &a;
	o->req.hangup = true;	/* the job's life is this connection's */
	if (corral_run(conn, &o->req, a.id, &e) < 0) {
		a.id[0] = '\0';
		cli_fail(c, &e);
		return conn->remote_error ? run_error_status(conn->error_stage, &e)
					  : EXIT_CORRAL;
	}
	a.queued = false;
	/* As systemd-run says "Running as unit: ...": which job this is. */
	if (!o->quiet)
		fprintf(stderr, "Running as job %s\n", a.id);
	escalate(&a);	/* interrupted while it was starting */
	if (runopt_has(&o->req.opt, OPT_INTERACTIVE) && start_input(conn, o, &e) < 0) {
		term_restore();
		cli_fail(c, &e);
		fprintf(stderr, "corral: job %s may still be running\n", a.id);
		return EXIT_CORRAL;
	}
	/* A reconnected FOLLOW sends no input: corrald ties a job's input to
	 * the connection that ran it (docs/tty.md). */
	rc = follow_riding(c, conn, a.id, STREAM_STDOUT | STREAM_STDERR | STREAM_META,
			   cli_write_log, NULL, &job, &e);
	term_restore();
	if (rc < 0) {
		cli_fail(c, &e);
		fprintf(stderr, "corral: job %s may still be running\n", a.id);
		return EXIT_CORRAL;
	}
	rc = job_exit_status(&job);
	if (rc == EXIT_CORRAL)
		fprintf(stderr, "corral: job %s ended in state %s\n", job.id,
			job.state);
	/* What was shown is not all the job wrote: say so, whatever the
	 * notes in the log managed to say. */
	if (job.has_log_dropped && job.log_dropped)
		fprintf(stderr, "corral: %llu bytes of the job's output were not stored (corral status %.8s says why)\n",
			(unsigned long long)job.log_dropped, job.id);
	corral_job_free(&job);
	return rc;
}

static int run_parsed(int argc, char **argv, struct cli *c, struct run_opts *o)
{
	char id[JOB_ID_LEN + 1];
	struct corral_conn conn;
	struct cerr e = { 0 };
	int rc;

	rc = parse_run(argc, argv, c, o);
	if (rc || o->help)
		return rc;
	if (cli_connect(c, &conn, &e) < 0)
		return cli_fail(c, &e);
	o->req.on_queued = detached_queued;
	if (!o->detach) {
		rc = run_attached(&conn, o, c);
	} else if (corral_run(&conn, &o->req, id, &e) < 0) {
		cli_fail(c, &e);
		rc = conn.remote_error ? run_error_status(conn.error_stage, &e)
				       : EXIT_CORRAL;
	} else if (o->json) {
		fputs("{\"id\":", stdout);
		json_str(stdout, id);
		fputs("}\n", stdout);
	} else {
		puts(id);
	}
	corral_close(&conn);
	return rc;
}

int cmd_run(int argc, char **argv, struct cli *c)
{
	static struct run_opts o;	/* big: env table */
	int rc = run_parsed(argc, argv, c, &o);

	for (size_t i = 0; i < o.nown; i++)
		free(o.own[i]);
	o.nown = 0;
	return rc;
}

/* --- logs, wait --------------------------------------------------------- */

enum { O_STDOUT = 300, O_STDERR, O_WJSON };

static const struct option logs_opts[] = {
	{ "follow", no_argument, NULL, 'f' },
	{ "stdout", no_argument, NULL, O_STDOUT },
	{ "stderr", no_argument, NULL, O_STDERR },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

int cmd_logs(int argc, char **argv, struct cli *c)
{
	uint32_t streams = 0;
	struct corral_conn conn;
	struct corral_job job;
	struct cerr e = { 0 };
	bool follow = false;
	const char *ref;
	int ch, rc = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":fh", logs_opts)) != -1) {
		switch (ch) {
		case 'f': follow = true; break;
		case O_STDOUT: streams |= STREAM_STDOUT; break;
		case O_STDERR: streams |= STREAM_STDERR; break;
		case 'S':
		case 'H': cli_common_opt(c, ch); break;
		case 'U': if (cli_names_of(c, optarg)) return EXIT_CORRAL; break;
		case 'h': fputs(logs_help, stdout); return 0;
		default: return cli_bad_option(c, ch, argv);
		}
	}
	if (cli_jobs(c, argc, argv))
		return EXIT_CORRAL;
	if (!streams)
		streams = STREAM_STDOUT | STREAM_STDERR | STREAM_META;
	for (int i = optind; i < argc; i++) {
		ref = argv[i];
		if (cli_connect(c, &conn, &e) < 0)
			return cli_fail(c, &e);
		if ((follow ? follow_riding(c, &conn, ref, streams, cli_write_log,
					    NULL, &job, &e)
			    : corral_follow(&conn, ref, streams, false, cli_write_log,
					    NULL, &job, &e)) < 0)
			rc = cli_fail(c, &e);
		else
			corral_job_free(&job);
		corral_close(&conn);
	}
	return rc;
}

static const struct option wait_opts[] = {
	{ "json", no_argument, NULL, O_WJSON },
	CLI_REF_OPTS,
	CLI_COMMON_OPTS,
	{ NULL, 0, NULL, 0 },
};

int cmd_wait(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct corral_job job;
	struct cerr e = { 0 };
	bool json = false;
	const char *ref;
	int ch, rc = 0;

	optind = 0;
	opterr = 0;
	while ((ch = cli_getopt(argc, argv, ":h", wait_opts)) != -1) {
		switch (ch) {
		case O_WJSON: json = true; break;
		case 'S':
		case 'H': cli_common_opt(c, ch); break;
		case 'U': if (cli_names_of(c, optarg)) return EXIT_CORRAL; break;
		case 'h': fputs(wait_help, stdout); return 0;
		default: return cli_bad_option(c, ch, argv);
		}
	}
	if (cli_jobs(c, argc, argv))
		return EXIT_CORRAL;
	/* Each in turn; the status is the first job's that did not exit 0
	 * (so `corral wait a b && next` goes on only if all did). */
	for (int i = optind; i < argc; i++) {
		ref = argv[i];
		if (cli_connect(c, &conn, &e) < 0)
			return cli_fail(c, &e);
		if (follow_riding(c, &conn, ref, 0, NULL, NULL, &job, &e) < 0) {
			corral_close(&conn);
			if (!rc)
				rc = cli_fail(c, &e);
			else
				cli_fail(c, &e);
			continue;
		}
		corral_close(&conn);
		if (json) {
			json_job(stdout, &job);
			fputc('\n', stdout);
		}
		if (!rc)
			rc = job_exit_status(&job);
		corral_job_free(&job);
	}
	return rc;
}
