/* Jobs corrald is running right now, their log files and their helper
 * events.  A struct job lives from RUN until the end is recorded; a struct
 * logf lives while the job or any follower needs it. */
#ifndef CORRAL_JOB_H
#define CORRAL_JOB_H

#include "mgr.h"
#include "runopt.h"

/* --- logfile.c ------------------------------------------------------- */

/* Past log_max_bytes a log keeps its first and its last half: a gap
 * note (a META record that names where the log goes on, F_SKIP_TO) marks
 * the place, and the middle is punched out of the file as the tail moves
 * on.  Offsets never change; readers jump from the note to gap_end. */
#define LOG_MARKS 1024
struct log_mark {
	uint64_t off;		/* a record's start */
	uint64_t output;	/* output bytes written before it */
};

struct logf {
	int refs;
	int fd;			/* -1: no log file (nothing was written) */
	uint64_t size;		/* bytes of complete records */
	uint64_t gap_rec;	/* offset of the gap note; 0: no gap */
	uint64_t gap_end;	/* where the log goes on after the note */
	uint64_t output;	/* output bytes ever written (live log) */
	uint64_t punched;	/* bytes of the file punched out */
	uint64_t left_out;	/* output bytes in the gap */
	struct log_mark marks[LOG_MARKS];	/* tail record starts, a ring */
	unsigned mark_first, nmarks;
	uint64_t mark_every;	/* bytes between marks */
	uint64_t gap_output;	/* output written before gap_end */
	bool cap_drop;		/* past the cap with no way to keep a tail
				 * (no note, no punching): output is dropped */
	uint64_t stored, dropped;	/* output bytes kept, and past the cap */
	bool failing;		/* writes fail (a full disk): output dropped */
	uint64_t failed_bytes;	/* dropped while failing, this episode */
	uint64_t torn;		/* bytes of a torn last record, past size */
	bool done;		/* the job's end is recorded */
	bool create;		/* no file yet: the first record makes it */
	struct obuf *final;	/* its last JOB record, once done */
	struct client *followers;
	char job_id[JOB_ID_LEN + 1];
};

/* The log of a new job, state_dir/logs/<id>.log, whose file its first
 * record makes (the directory is checked here).  reuse: the log a queued
 * job's followers already hold, taken over with the caller's reference;
 * NULL: a new one. */
struct logf *logf_create(struct mgr *m, const char *id, struct logf *reuse,
			 struct cerr *e);
/* A running job's log again, for a successor corrald: its records
 * re-read from the file (a torn tail cut off) for where it goes on. */
struct logf *logf_reopen(struct mgr *m, const char *id, struct cerr *e);
/* A log object without a file yet: a queued job's, for its followers. */
struct logf *logf_pending(const char *id);
/* Open a finished job's log for reading (an empty one if it has none). */
struct logf *logf_open_finished(struct mgr *m, const char *id,
				struct cerr *e);
void logf_put(struct logf *l);
/* Bytes of a gap note record. */
size_t gap_note_len(void);
/* Delete a job's log file (none: not an error). */
int logf_remove(struct mgr *m, const char *id, struct cerr *e);

/* What a log file holds: whole records up to whole (torn bytes after it),
 * output bytes in them (stdout and stderr), the last record's time. */
struct log_scan {
	uint64_t whole, torn, output, last_time_ms;
	uint64_t gap_rec, gap_end;	/* a gap note, 0: none */
	uint64_t punched;		/* bytes in the gap */
};
int logf_scan(int fd, struct log_scan *ls);
/* Scan a lost job's log and cut a torn tail off it (no log: all zero). */
int logf_repair(struct mgr *m, const char *id, struct log_scan *ls);
/* Store a chunk of the job's output as records, within log_max_bytes:
 * past the cap the rest is counted as dropped, with one note. */
void logf_output(struct mgr *m, struct logf *l, uint32_t stream,
		 const uint8_t *data, size_t n);

/* --- env.c ----------------------------------------------------------- */

/* A job's environment, composed here and nowhere else: the client's
 * variables, PATH unless given, and USER, LOGNAME, HOME and SHELL from
 * the user's passwd entry unless given. */
struct job_env {
	const char *v[ENV_MAX];
	size_t n;
	char *own;		/* the composed strings' storage */
};
int job_env_compose(const struct wire_msg *run, uint32_t uid,
		    struct job_env *env, struct cerr *e);
void job_env_free(struct job_env *env);

/* --- job.c ----------------------------------------------------------- */

struct pipe_src {
	struct ev ev;
	struct job *job;
	int fd;			/* -1 after EOF */
	uint32_t stream;
};

/* -i/-t: the job's stdin, fed by INPUT from the connection that ran it.
 * At most one chunk waits here; while it does, that connection is not
 * read (input.c, docs/tty.md). */
struct input_sink {
	struct ev ev;		/* EV_INPUT: fd writable again */
	struct job *job;
	int fd;			/* stdin pipe's write end, or a dup of the pty
				 * master; -1: none or closed */
	bool tty;		/* fd is the pty master */
	bool eof;		/* the client's input ended: after held */
	bool watching;		/* fd is in epoll (EPOLLOUT) */
	uint8_t *held;		/* bytes not written yet, or NULL */
	size_t off, len;
	struct client *src;	/* the connection that ran the job, or NULL */
	bool awaiting;		/* reload: handed over tied; its connection
				 * is adopted next (input_resume) */
};

enum end_reason { END_NONE, END_TIMED_OUT, END_STOPPED, END_KILLED };

struct job {
	char id[JOB_ID_LEN + 1];
	struct job *hnext;		/* hash chain */
	struct job *next, *prev;	/* m->active */
	struct job *next_dead;
	struct pipe_src out, err;
	struct input_sink in;
	struct logf *log;
	struct client *waiter;		/* RUN client awaiting STARTED */
	bool started, exited, failed, lost, dead;
	bool hangup;			/* its attached client went: HUP first */
	bool resync;			/* taken back at a restart: the helper
					 * has not said yet that it holds it */
	enum end_reason reason;
	int pending;			/* stop asked before STARTED: 0, SIGTERM, SIGKILL */
	uint64_t timeout_ms;
	int64_t timeout_at, kill_at, drain_at;	/* monotonic ms, 0: none */
	uint32_t uid;			/* whose job (the queue counts per user) */
	uint32_t priority;		/* for the queue, if the helper has no slot */
	uint64_t seq;			/* arrival order, kept if it goes back */
	char *cwd, *argv0;		/* what a failed start was about, or NULL */
	char *path;			/* the PATH its exec searched, or NULL */
	unsigned stage;			/* failed: where */
	int fail_errno;		/* failed: its errno */
	char why[MESSAGE_LEN_MAX];	/* failed or lost: why */
	int64_t ended_ms;		/* wall clock, when corrald learnt it */
	int64_t end_retry_at;		/* the end's write failed: retry then */
	uint32_t wstatus;
	uint64_t oom_kills, cpu_usec, memory_peak;
	/* Group commit: committed, told once the loop turn's sync is done */
	bool ack_started;		/* STARTED for the waiter */
	bool end_written;		/* the final record, the waiter, the queue */
	bool settle_listed;
	struct job *settle_next;	/* m->settle */
};

/* An event from the helper, decoded by helper_link.c. */
/* A figure the kernel did not measure (no memory controller): stored as
 * NULL, shown as "-". */
#define STAT_NONE UINT64_MAX

struct helper_event {
	uint16_t type;		/* H_STARTED, H_START_FAILED, H_EXITED, H_ERROR */
	const char *name;	/* the message's name, for logs */
	const char *job_id;	/* NULL: an ERROR about no job */
	uint32_t pid;
	unsigned stage;
	int err;
	const char *message;
	uint32_t wstatus;
	uint64_t oom_kills, cpu_usec, memory_peak;
	int fd;			/* STARTED of a -t job: the pty master; -1 */
	const char *net_address, *net_mac;	/* STARTED of a --network job */
};
/* Takes ev->fd if it uses it (sets it to -1). */
void job_helper_event(struct mgr *m, struct helper_event *ev);

/* Start a job whose row is committed starting: log (reuse, see
 * logf_create), pipes, START.  waiter (NULL: none) gets STARTED or
 * ERROR later. */
int job_start(struct mgr *m, struct client *waiter, uint32_t uid,
	      const char *id, const struct wire_msg *run,
	      const struct job_env *env, struct logf *reuse, uint64_t seq,
	      struct cerr *e);
/* A job taken over from a predecessor (resume.c): into the table, and
 * its output pipes into the loop. */
void job_link(struct mgr *m, struct job *j);
int add_pipe(struct mgr *m, struct job *j, struct pipe_src *p, int fd,
	     uint32_t stream, struct cerr *e);
/* The job is lost (why: the helper died, or a restart could not take it
 * back): recorded so once its output is drained. */
void job_lose(struct mgr *m, struct job *j, const char *why);
/* After a restart: carry on a stop ("stop", "hangup": TERM, then KILL
 * once the grace from asked_ms (wall ms) is over) or a "kill" that was
 * under way when corrald died; detail is its audit detail. */
int job_restop(struct mgr *m, struct job *j, const char *action,
	       int64_t asked_ms, const char *detail, struct cerr *e);
/* Send every follower of l the job's final record. */
void job_publish_final(struct mgr *m, struct logf *l, const char *id);

/* --- input.c --------------------------------------------------------- */

/* Whether a RUN's options ask for input (-i, or -t which implies it). */
bool job_wants_input(const struct runopts *opt);
/* Tie j's input to src (NULL: nobody feeds it; EOF at once once fd is
 * given), and give it fd (-1: later, the pty master with STARTED). */
int input_attach(struct mgr *m, struct job *j, struct client *src, int fd,
		 bool tty, struct cerr *e);
/* The pty master arrived: fd is a dup of it for writing. */
int input_set_fd(struct mgr *m, struct job *j, int fd, struct cerr *e);
/* Close the job's side and untie its client (the job's end, a requeue). */
void input_close(struct mgr *m, struct job *j);
/* c is closing: its job's input ends. */
void input_client_gone(struct mgr *m, struct client *c);
/* A reload (resume.c): the RF_* bits of j's tie for its record; the
 * successor takes the tie back (fd -1: none; held: bytes the job had not
 * taken), ties the connection that fed it again, and ends the input of
 * a job whose connection did not come back. */
uint32_t input_record_flags(const struct job *j);
int input_resume(struct mgr *m, struct job *j, int fd, uint32_t flags,
		 const uint8_t *held, size_t len, struct cerr *e);
void input_retie(struct mgr *m, struct client *c, struct job *j);
void input_orphans(struct mgr *m);

/* A -t job's user is gone: closing the master hangs its terminal up. */
void job_tty_hangup(struct mgr *m, struct job *j);

/* --- helper_link.c --------------------------------------------------- */

/* fds: stdout's and stderr's write ends, then stdin's read end (-i);
 * none for -t. */
int hlink_start(struct mgr *m, const char *id, uint32_t uid,
		const struct wire_msg *run, const struct job_env *env,
		const int *fds, unsigned nfds, struct cerr *e);
/* -t: START with the terminal's size (0: unknown). */
int hlink_start_tty(struct mgr *m, const char *id, uint32_t uid,
		    const struct wire_msg *run, const struct job_env *env,
		    unsigned rows, unsigned cols, struct cerr *e);
/* SIGTERM and the like through SIGNAL (every process of the job, or the
 * main process's group with foreground); SIGKILL through KILL. */
int hlink_signal(struct mgr *m, const char *id, int sig, bool foreground,
		 struct cerr *e);

#endif
