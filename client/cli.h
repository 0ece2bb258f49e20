/* Shared by the corral CLI's source files. */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "clifmt.h"
#include "libcorral.h"

/* Options every subcommand takes (cli_common_opt handles --socket and
 * --host). */
#define CLI_COMMON_OPTS \
	{ "socket", required_argument, NULL, 'S' }, \
	{ "host", required_argument, NULL, 'H' }, \
	{ "help", no_argument, NULL, 'h' }
/* Commands that take JOBs: whose job names they mean (admins). */
#define CLI_REF_OPTS \
	{ "user", required_argument, NULL, 'U' }

struct cli {
	const char *cmd;	/* subcommand name, for messages (NULL: none) */
	const char *socket;	/* --socket, or NULL */
	const char *host;	/* --host, or NULL ($CORRAL_HOST then) */
	bool names_of_set;	/* --user: job names mean that user's jobs */
	uint32_t names_of;
};

/* "corral: CMD: <msg> (see corral CMD --help)"; returns EXIT_CORRAL. */
int cli_usage(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "corral: <e->msg>"; returns EXIT_CORRAL. */
int cli_fail(const struct cli *c, const struct cerr *e);

/* getopt_long without abbreviated long options (they are unknown). */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* Report a getopt failure (opterr is 0); returns EXIT_CORRAL. */
int cli_bad_option(const struct cli *c, int ch, char *const argv[]);

/* The JOB operands after the options (argv[optind..argc)): 0 if there is
 * at least one and each is of a JOB's length, else a usage error. */
int cli_jobs(const struct cli *c, int argc, char **argv);

/* A user name or uid, for --user. */
int cli_parse_user(const char *v, uint32_t *uid, struct cerr *e);

/* --user U (a name or a uid) of the commands that take JOBs. */
int cli_names_of(struct cli *c, const char *v);

/* The options of a command that takes only --json (json NULL: not even
 * that) and, if refs, --user: parses argv, prints help for --help;
 * returns an exit status (0 after help), or -1 to go on. */
int cli_json_only(int argc, char **argv, struct cli *c, const char *help,
		  bool *json, bool refs);

/* --socket and --host (getopt's ch, with optarg): true if ch was one. */
bool cli_common_opt(struct cli *c, int ch);

/* Whether commands go to another host (--host, else $CORRAL_HOST):
 * then this machine's passwd says nothing about corrald's uids. */
bool cli_remote(const struct cli *c);

/* corrald's socket, or with --host (else $CORRAL_HOST, if not empty)
 * corrald on that host over ssh, --socket then naming its socket. */
int cli_connect(const struct cli *c, struct corral_conn *conn, struct cerr *e);

/* Write all of buf to fd, through EINTR, partial writes and O_NONBLOCK. */
int write_full(int fd, const void *buf, size_t len, struct cerr *e);

/* corral_log_fn that writes stdout data to fd 1, stderr data to fd 2 and
 * corrald's notes to stderr as "corral: ...". */
int cli_write_log(void *ctx, uint32_t stream, uint64_t time_ms,
		  const uint8_t *data, size_t len, struct cerr *e);

int cmd_run(int argc, char **argv, struct cli *c);

/* term.c: -i and -t (docs/tty.md) */
/* Add TERM, LANG and LC_* of our environment to env unless given. */
void term_env_defaults(const char **env, size_t *n, size_t max);
/* stdin to raw mode, put back by term_restore (also at exit, and on a
 * fatal signal we do not otherwise handle). */
int term_raw(struct cerr *e);
void term_restore(void);
/* stdin's size, if it is a terminal (else 0, 0). */
void term_size(unsigned *rows, unsigned *cols);
/* WINSIZE with stdin's size, if it is a terminal. */
int term_send_size(struct corral_conn *conn, struct cerr *e);
/* conn->on_in (ctx: conn): stdin to the job. */
int term_pump(void *ctx, struct cerr *e);
int cmd_ps(int argc, char **argv, struct cli *c);
int cmd_audit(int argc, char **argv, struct cli *c);
int cmd_logs(int argc, char **argv, struct cli *c);
int cmd_wait(int argc, char **argv, struct cli *c);
int cmd_dial_stdio(int argc, char **argv, struct cli *c);

#endif
