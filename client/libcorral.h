/* libcorral: the client side of the corral <-> corrald link.
 *
 * One connection carries requests one after another (docs/protocol.md).
 * Each function below sends one request and reads its whole reply
 * sequence on a blocking socket, so when it returns the connection is
 * ready for the next request.  Replies are decoded into plain C structs;
 * callers never see wire fields.
 *
 * Errors follow common/err.h.  When corrald answered with ERROR, the
 * struct cerr holds corrald's errno and message verbatim and
 * conn->remote_error is true; otherwise the failure was local (connect,
 * I/O, a reply that broke the protocol).
 *
 * A connection is corrald's Unix socket (corral_connect), or the stdin
 * and stdout of an ssh child that runs `corral dial-stdio` on another
 * host (corral_connect_ssh, docs/remote.md): one socketpair end either
 * way, and the same requests and replies. */
#ifndef CORRAL_LIBCORRAL_H
#define CORRAL_LIBCORRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proto.h"
#include "runopt.h"
#include "wire_io.h"

#define CORRAL_URL_MAX 300	/* an ssh://[user@]host[:port] */

struct corral_conn {
	int fd;
	struct wire_reader rd;
	bool remote_error;	/* the last failure was an ERROR reply */
	unsigned error_stage;	/* its start stage, STAGE_NONE if it named none */
	/* How long to wait for corrald to begin a reply (CORRAL_TIMEOUT
	 * seconds, default 30; 0 waits for ever).  Streams (logs -f, wait)
	 * wait for ever once they have begun. */
	int timeout_ms;
	bool awaiting;		/* a request was sent and nothing came yet */
	/* Whose job names references mean (admins: another user's); set
	 * with corral_names_of. */
	bool names_of_set;
	uint32_t names_of;
	/* The note corrald's last OK carried ("" if none). */
	char note[MESSAGE_LEN_MAX];
	/* Optional: while waiting for a reply, also watch wake_fd and call
	 * on_wake(wake_ctx) when it is readable (the CLI's signal pipe). */
	int wake_fd;
	void (*on_wake)(void *ctx);
	void *wake_ctx;
	/* Optional, likewise: in_fd readable calls on_in(in_ctx), which may
	 * send INPUT (corral_input) and set in_fd to -1 at its end; -1 on
	 * failure closes the connection. */
	int in_fd;
	int (*on_in)(void *ctx, struct cerr *e);
	void *in_ctx;
	/* Remote connections only: the ssh child whose stdin and stdout are
	 * the other end of fd (0 for a local socket; corral_close reaps it),
	 * the URL for messages, and whether any reply came through. */
	pid_t ssh_pid;
	bool answered;
	/* FOLLOW of every stream: the log bytes received, where a
	 * reconnecting follower goes on (corral_follow_from). */
	uint64_t log_off;
	char url[CORRAL_URL_MAX + 1];
};

/* --socket value if given, else $CORRAL_SOCKET if set and non-empty,
 * else the compiled-in DEFAULT_SOCKET. */
const char *corral_socket_path(const char *opt);

int corral_connect(struct corral_conn *c, const char *path, struct cerr *e);
/* Close; for a remote connection also wait (a second at most, then
 * SIGKILL) for ssh to exit. */
void corral_close(struct corral_conn *c);

/* --- remote hosts, over ssh (docs/remote.md) ------------------------ */

/* ssh://[user@]host[:port], taken apart.  host is a name, an IPv4
 * address or an IPv6 one in brackets; user and host hold letters, digits
 * and "._-" (user also "@", host ":" and "%" in brackets) and neither
 * starts with '-', so ssh can never take them for options. */
struct corral_ssh_url {
	char user[USER_LEN_MAX + 1];	/* "": ssh's choice (its config) */
	char host[256];
	unsigned port;			/* 0: ssh's choice */
};

int corral_parse_ssh_url(const char *url, struct corral_ssh_url *u,
			 struct cerr *e);

/* The ssh command line of a remote connection:
 *   ssh [extra...] [-o BatchMode=yes] [-o ConnectTimeout=S] -T -a -x
 *       -o ClearAllForwardings=yes -e none [-p PORT] [-l USER]
 *       -- HOST 'PROGRAM' dial-stdio [--socket 'SOCKET']
 * extra is CORRAL_SSH_OPTS split at blanks (so the user's own options
 * come first, and ssh takes the first value of an option); batch when
 * stdin is not a terminal; timeout_s 0 leaves ConnectTimeout to ssh. */
#define CORRAL_SSH_ARGV_MAX 80
struct corral_ssh_cmd {
	const char *argv[CORRAL_SSH_ARGV_MAX];
	char extra[1024], timeout[32], port[12];
	char remote[2 * (4 * PATH_LEN_MAX + 2) + 32];
};

int corral_ssh_command(const struct corral_ssh_url *u, const char *extra,
		       bool batch, int timeout_s, const char *program,
		       const char *socket, struct corral_ssh_cmd *cmd,
		       struct cerr *e);

/* Connect to corrald on another host: run the command above (extra from
 * $CORRAL_SSH_OPTS, program from $CORRAL_REMOTE_CORRAL or "corral",
 * remote_socket the far side's --socket, or NULL for its default) with a
 * socketpair end as its stdin and stdout.  ssh's failures show when the
 * first reply is due, as an error naming the host. */
int corral_connect_ssh(struct corral_conn *c, const char *url,
		       const char *remote_socket, struct cerr *e);

/* VIA: tell corrald how this connection came, for its audit details
 * (dial-stdio: "ssh:<addr>:<port>").  No reply; only as the first
 * message. */
int corral_via(struct corral_conn *c, const char *note, struct cerr *e);
/* Job names in later requests mean uid's jobs (admins only). */
void corral_names_of(struct corral_conn *c, uint32_t uid);

struct corral_run_req {
	const char *const *argv;
	size_t argc;
	const char *const *env;		/* exactly these; corrald adds PATH and */
	size_t nenv;			/* the user's identity where unset */
	const char *cwd;		/* absolute */
	uint32_t ns_off;		/* NS_* bits of namespaces NOT to create */
	struct runopts opt;		/* limits, name, timeout, rootfs... */
	const char *after;		/* start after this job ends; NULL: none */
	bool after_ok;			/* ... only if it exited 0 */
	bool no_queue;			/* fail at once when over a cap */
	bool hangup;			/* attached: when this connection
					 * closes, the job gets SIGHUP and is
					 * stopped (cancelled if queued) */
	unsigned rows, cols;		/* -t: the terminal's size; 0: unknown */
	/* Called if corrald queues the job (position 0: it waits for
	 * another job; waiting: why, or NULL); returning true ends
	 * corral_run there (it returns 1, id set, the job stays queued).
	 * NULL: wait for the start. */
	bool (*on_queued)(void *ctx, const char *id, uint32_t position,
			  const char *waiting);
	void *queued_ctx;
};

/* A job record.  Strings are NUL-terminated and owned by the record;
 * optional ones are NULL when absent. */
struct corral_job {
	char id[JOB_ID_LEN + 1];
	uint32_t uid;
	const char *user, *state, *cwd, *error;
	unsigned stage;			/* STAGE_NONE unless its start failed */
	const char **argv, **env;
	size_t argc, nenv;
	struct runopts opt;
	uint32_t ns_off;
	bool has_pid, has_started, has_ended;
	bool has_exit_code, has_signal, has_wstatus, has_errno;
	bool has_oom, has_cpu, has_peak, has_log_bytes, has_log_dropped;
	bool has_log_deleted;
	uint64_t log_deleted_ms;
	const char *after, *waiting;	/* queued: what it waits for (NULL) */
	const char *net_address, *net_mac;	/* --network, once running */
	bool after_ok;
	uint32_t position;		/* queued: 1 = next, 0: none */
	uint32_t pid, err;
	uint64_t created_ms, started_ms, ended_ms;
	uint32_t exit_code, signal, wstatus;
	uint64_t oom_kills, cpu_usec, memory_peak, log_bytes, log_dropped;
	void *priv;		/* the decoded message the strings live in */
};

void corral_job_free(struct corral_job *j);

struct corral_audit_row {
	uint64_t time_ms;
	uint32_t uid;
	bool has_pid;
	uint32_t pid;
	const char *action, *job_id, *outcome, *detail;	/* job_id, detail may be NULL */
};

/* Callbacks return 0 to go on, -1 (with e set) to stop; the connection
 * is then closed because the rest of the reply sequence is unread. */
typedef int (*corral_log_fn)(void *ctx, uint32_t stream, uint64_t time_ms,
			     const uint8_t *data, size_t len, struct cerr *e);
typedef int (*corral_job_fn)(void *ctx, const struct corral_job *j,
			     struct cerr *e);
typedef int (*corral_audit_fn)(void *ctx, const struct corral_audit_row *r,
			       struct cerr *e);

/* RUN: on success id holds the new job's id: 0, it is running; 1, it
 * waits in the queue and on_queued said not to wait. */
int corral_run(struct corral_conn *c, const struct corral_run_req *req,
	       char id[JOB_ID_LEN + 1], struct cerr *e);

/* INPUT: bytes for the stdin (or terminal) of the -i/-t job this
 * connection ran, while it follows it; eof says the input ended.  No
 * reply: corrald stops reading while the job does not, so this blocks
 * then (docs/tty.md). */
int corral_input(struct corral_conn *c, const void *data, size_t len, bool eof,
		 struct cerr *e);
/* WINSIZE: the terminal's size, for a -t job's pty. */
int corral_winsize(struct corral_conn *c, unsigned rows, unsigned cols,
		   struct cerr *e);

/* FOLLOW: every LOG_DATA goes to on_log (may be NULL when streams is 0),
 * then the JOB record is stored in *job (free with corral_job_free). */
int corral_follow(struct corral_conn *c, const char *ref, uint32_t streams,
		  bool follow, corral_log_fn on_log, void *ctx,
		  struct corral_job *job, struct cerr *e);
/* The same, going on from byte from of the job's log (0: the start): the
 * log_off a dropped connection had, when every stream was wanted. */
int corral_follow_from(struct corral_conn *c, const char *ref, uint32_t streams,
		       bool follow, uint64_t from, corral_log_fn on_log,
		       void *ctx, struct corral_job *job, struct cerr *e);

struct corral_list_req {
	bool all;
	bool has_uid;
	uint32_t uid;
	uint32_t states;	/* 1 << enum job_state each; 0: any */
	const char *name;	/* NULL: any */
	uint32_t limit;		/* 0: corrald's default */
};

int corral_list(struct corral_conn *c, const struct corral_list_req *q,
		corral_job_fn fn, void *ctx, struct cerr *e);

int corral_status(struct corral_conn *c, const char *ref,
		  struct corral_job *job, struct cerr *e);

/* STOP / KILL: id receives the job id corrald resolved ref to ("" if it
 * did not say). */
int corral_stop(struct corral_conn *c, const char *ref, bool has_grace,
		uint64_t grace_ms, char id[JOB_ID_LEN + 1], struct cerr *e);
int corral_kill(struct corral_conn *c, const char *ref,
		char id[JOB_ID_LEN + 1], struct cerr *e);
/* KILL with a signal: sig (not SIGKILL) to every process of a running
 * job, or with foreground to its main process's group only (TERM, INT,
 * HUP, QUIT: what an attached client's Ctrl-C sends). */
int corral_signal(struct corral_conn *c, const char *ref, int sig,
		  bool foreground, char id[JOB_ID_LEN + 1], struct cerr *e);

struct corral_audit_req {
	bool has_uid;
	uint32_t uid;
	const char *action;	/* NULL: any */
	uint64_t since_ms;	/* 0: from the start */
	uint32_t limit;		/* 0: corrald's default */
};

int corral_audit(struct corral_conn *c, const struct corral_audit_req *q,
		 corral_audit_fn fn,
		 void *ctx, struct cerr *e);

int corral_whoami(struct corral_conn *c, uint32_t *uid, bool *admin,
		  struct cerr *e);

/* RM: delete a finished job and its log; id receives its id. */
int corral_rm(struct corral_conn *c, const char *ref,
	      char id[JOB_ID_LEN + 1], struct cerr *e);

/* PRUNE: apply retention now (or, dry, say what it would delete); msg
 * receives corrald's summary. */
int corral_prune(struct corral_conn *c, bool dry, char *msg, size_t len,
		 struct cerr *e);

#endif
