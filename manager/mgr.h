/* corrald's shared state: configuration, clients, jobs, the helper link.
 * One process, one epoll loop, no threads; see docs/manager.md. */
#ifndef CORRAL_MGR_H
#define CORRAL_MGR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "err.h"
#include "fdnames.h"
#include "outq.h"
#include "sched.h"
#include "store.h"
#include "wire.h"
#include "wire_io.h"

struct mgr_conf {
	char *path;		/* the file it came from, for messages */
	char *socket;
	char *socket_group;
	char *admin_group;
	char *state_dir;
	char *helper;
	uint64_t log_max_bytes;
	uint64_t stop_grace_ms;
	uint64_t max_clients;
	uint64_t admin_clients;		/* of max_clients, for root and admins only */
	uint64_t max_clients_per_user;	/* per uid; root is exempt */
	uint64_t client_idle_ms;	/* idle connections are closed after this */
	uint64_t request_buffer_max;	/* all unfinished requests together */
	/* retention (retention.c); 0: keep for ever / no limit */
	uint64_t log_keep_ms, job_keep_ms, audit_keep_ms;
	uint64_t log_space, user_log_space;
	/* the queue (queue.c); max_running 0: the helper's max_jobs */
	uint64_t max_running, user_max_running, user_max_queued;
};

int mconf_load(struct mgr_conf *c, const char *path, struct cerr *e);
void mconf_free(struct mgr_conf *c);

/* What every epoll-registered object starts with. */
enum ev_type { EV_LISTEN = 1, EV_SIGNAL, EV_TIMER, EV_HELPER, EV_CLIENT,
	       EV_PIPE, EV_INPUT };
struct ev {
	enum ev_type type;
};

/* Who is on the other end of a client socket, from the kernel only;
 * and, apart from that, what the client said about how it came (VIA:
 * "ssh:<addr>:<port>" from dial-stdio).  The note is the client's word:
 * it is appended to audit details as " via=..." and decides nothing. */
struct ident {
	uint32_t uid;
	uint32_t pid;
	bool admin;
	char user[USER_LEN_MAX + 1];
	char via[VIA_LEN_MAX + 1];	/* "" unless the client sent VIA */
};

struct logf;
struct job;
struct qjob;

/* A client's position in a job log it follows. */
struct follow {
	struct logf *log;
	struct client *next, *prev;	/* the log's live followers */
	uint64_t off;		/* next file byte to send */
	uint64_t rec_end;	/* end of the record being sent (filtering) */
	uint64_t end;		/* follow=0: size when asked */
	uint32_t streams;
	bool live;		/* follow=1 */
	bool listed;		/* on log->followers */
	bool seek;		/* off came from the client (FOLLOW from) */
	char job_id[JOB_ID_LEN + 1];
};

/* Where a client is in its current reply sequence. */
enum sess_state { SS_IDLE, SS_RUN, SS_FOLLOW, SS_LIST, SS_AUDIT };

struct client {
	struct ev ev;
	int fd;			/* -1 when driven without a socket */
	struct ident who;
	struct wire_reader rd;
	struct outq q;
	enum sess_state state;
	struct list_query lq;	/* SS_LIST */
	struct audit_query aq;	/* SS_AUDIT */
	uint32_t left;		/* rows still wanted */
	struct follow f;	/* SS_FOLLOW */
	struct job *run_job;	/* SS_RUN: waiting for STARTED */
	struct qjob *run_q;	/* SS_RUN: its job is queued */
	char hup_id[JOB_ID_LEN + 1];	/* RUN with hangup: the job hung up
					 * when this connection closes */
	struct job *in_job;	/* -i/-t: the job its INPUT goes to */
	bool input;		/* it ran an -i/-t job: late INPUT is dropped */
	bool in_held;		/* not read while its last INPUT waits for
				 * the job to read (input.c) */
	uint16_t rows, cols;	/* -t: the terminal's size its RUN gave, for
				 * a job that starts later from the queue */
	uint32_t events;	/* current epoll mask */
	bool want_out, closing, rdhup, dead;
	bool asked;		/* a message came: too late for VIA */
	bool counted;		/* in its uid's connection count */
	uint32_t rd_held;	/* bytes its unfinished request holds (counted
				 * in mgr.partial_bytes) */
	bool idle_listed;	/* on the mgr's idle list */
	int64_t idle_at;	/* monotonic ms: closed then if still idle */
	struct client *idle_next, *idle_prev;
	struct client *next_dead;
	struct client *all_next, *all_prev;	/* mgr.clients */
};

/* Connections per uid, for max_clients_per_user. */
struct uid_conns {
	uint32_t uid;
	uint32_t n;
	struct uid_conns *next;
};

struct mgr;
struct job_env;
struct prune_count;

/* A RUN that is to wait in the queue (see queue.c). */
struct qspec {
	const char *id;
	uint32_t uid;
	uint32_t priority;
	const char *after;	/* the job id it waits for; NULL: none */
	bool after_ok;		/* only if that one exits 0 */
	bool blocked;		/* that job has not ended yet */
	uint64_t seq;		/* its arrival (back from the helper); 0: now */
	struct logf *log;	/* its log, taken over (back from the helper) */
};

/* The side effects of requests, so the request layer runs without
 * sockets or a helper (unit tests, fuzzing). */
struct mgr_ops {
	/* Create the job's pipes and log and send START with env; the
	 * reply to c comes later (STARTED or ERROR). */
	int (*launch)(struct mgr *m, struct client *c, const char *id,
		      const struct wire_msg *run, const struct job_env *env,
		      struct cerr *e);
	int (*stop)(struct mgr *m, const char *id, bool kill,
		    uint64_t grace_ms, struct cerr *e);
	/* Send a running job sig (not KILL): every process, or with
	 * foreground its main process's group. */
	int (*signal)(struct mgr *m, const char *id, int sig, bool foreground,
		      struct cerr *e);
	/* Turn c into a follower of job id (c->state = SS_FOLLOW). */
	int (*follow)(struct mgr *m, struct client *c, const char *id,
		      uint32_t streams, bool live, struct cerr *e);
	/* Whether job id is being stopped already (stop, kill of a name). */
	bool (*stopping)(struct mgr *m, const char *id);
	/* A running job's output figures so far; false if not running. */
	bool (*live_output)(struct mgr *m, const char *id, struct job_live *out);
	/* Delete a finished job's log file (rm; the row is the store's). */
	int (*rm_log)(struct mgr *m, const char *id, struct cerr *e);
	/* INPUT or WINSIZE from c, for the -i/-t job it ran (input.c). */
	void (*input)(struct mgr *m, struct client *c,
		      const struct wire_msg *msg);
	/* One retention pass (prune). */
	int (*prune)(struct mgr *m, struct prune_count *pc, struct cerr *e);
	/* Whether a RUN of uid starts now (0), waits in the queue (1), or
	 * is refused (-1, e set: over a cap with no_queue, or too many
	 * queued). */
	int (*place)(struct mgr *m, uint32_t uid, bool blocked, bool no_queue,
		     struct cerr *e);
	/* Queue a job whose row is committed queued, with c (NULL: none)
	 * waiting for its start; out gets its place and why it waits. */
	int (*enqueue)(struct mgr *m, struct client *c, const struct qspec *q,
		       struct job_live *out, struct cerr *e);
};

#define JOB_BUCKETS 4096
#define UID_BUCKETS 256
#define HELPER_DEATHS_MAX 5	/* more than this in the window: exit */
#define HELPER_DEATH_WINDOW_MS 60000

struct mgr {
	struct mgr_conf conf;
	struct store *store;
	const struct mgr_ops *ops;
	gid_t socket_gid, admin_gid;

	int epfd, listen_fd, sig_fd, timer_fd;
	int lock_fd;		/* flock on state_dir/corrald.lock */
	ino_t socket_ino;	/* the socket file this corrald bound */
	struct ev listen_ev, sig_ev, timer_ev, helper_ev;

	/* helper */
	int helper_fd;
	pid_t helper_pid;
	bool helper_ready;
	uint32_t helper_version;	/* its link version, from VERSION; 0: not said */
	bool helper_reexec;	/* re-exec it once it says it can (a reload) */
	int64_t helper_deaths[HELPER_DEATHS_MAX + 1];	/* monotonic ms */
	int64_t helper_restart_at;
	int exit_code;		/* >= 0: leave the loop with it */
	int64_t stop_at;	/* stopping: leave by then (monotonic ms) */
	/* a predecessor's unfinished jobs not yet marked lost (full disk) */
	char (*orphans)[JOB_ID_LEN + 1];
	int norphans;
	int64_t orphans_retry_at;
	int64_t prune_at;	/* the next retention pass (monotonic ms) */

	/* the queue (queue.c): queued jobs in arrival order, and by id */
	struct qjob *q_head, *q_tail;
	struct qjob *qjobs[JOB_BUCKETS];
	uint32_t nqueued;
	bool q_kick;		/* capacity or the queue changed: schedule */
	bool q_dirty;		/* positions are stale */
	uint64_t q_seq;		/* arrival order */
	uint64_t q_clock;	/* starts, for taking turns */
	struct sched_user *q_users;	/* users' last starts */
	size_t q_nusers, q_users_cap;
	uint32_t helper_max_jobs;	/* from READY; 0: not said */
	int64_t q_retry_at;	/* the helper refused a START for capacity:
				 * none is sent before a job ends or this
				 * (monotonic ms) */

	/* jobs being run (starting, running, or draining output) */
	struct job *jobs[JOB_BUCKETS];
	struct job *active;
	struct job *settle;	/* with a group commit to tell (job.c) */
	bool settle_now;	/* an end waits: sync at this turn's end */
	int64_t settle_by;	/* monotonic ms: a STARTED's sync is due */
	int64_t timer_armed;

	uint64_t nclients;
	uint64_t partial_bytes;	/* held by unfinished requests, all clients */
	struct uid_conns *uid_conns[UID_BUCKETS];
	/* Clients waiting for a request, oldest deadline first: the timeout
	 * is one constant, so appending keeps the list sorted. */
	struct client *idle_head, *idle_tail;
	struct client *dead_clients;
	struct job *dead_jobs;

	/* reload in place (resume.c) */
	struct client *clients;	/* every connection */
	char *conf_path;	/* -c, for the successor */
	char *self_path;	/* the binary the successor is, from the first start */
	int64_t reload_at;	/* reloading: exec by then (monotonic ms), 0: not */
	struct resume *resume;	/* handed over by a predecessor, until adopted */

	/* systemd's fd store (fdstore.c); NULL: no NOTIFY_SOCKET */
	struct fdstore *fds;
	bool helper_resync;	/* taken back at a restart: JOBS after VERSION */
};

/* Time: wall clock for records, monotonic for deadlines. */
int64_t now_ms(void);
int64_t mono_ms(void);

/* req.c: one decoded request from c; queues replies on c->q and may
 * leave c in a reply sequence (c->state != SS_IDLE). */
void req_handle(struct mgr *m, struct client *c, const struct wire_msg *msg);
/* Continue a LIST/AUDIT sequence while c->q is short. */
void req_more(struct mgr *m, struct client *c);
/* Queue an ERROR reply; stage is the start stage it names, if any. */
void reply_error(struct client *c, int num, unsigned stage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Record one request in the audit table; -1 (logged) if it could not be. */
int audit(struct mgr *m, const struct ident *who, const char *action,
	   const char *job_id, const char *outcome, const char *detail,
	   bool durable);

/* client.c */
void client_accept(struct mgr *m);
void client_event(struct mgr *m, struct client *c, uint32_t events);
/* Flush c's queue, advance its sequence, update its epoll mask. */
void client_kick(struct mgr *m, struct client *c);
void client_close(struct mgr *m, struct client *c);
void clients_reap(struct mgr *m);
/* Close connections idle past client_idle_timeout; the earliest such
 * deadline (monotonic ms), 0 for none. */
void clients_expire(struct mgr *m);
int64_t clients_next_deadline(struct mgr *m);
int listen_open(struct mgr *m, struct cerr *e);
/* Remove the socket file, if it is still the one this corrald made. */
void listen_unlink(struct mgr *m);

/* job.c */
extern const struct mgr_ops real_ops;
/* The hash bucket of a job id (jobs and queued jobs). */
unsigned id_bucket(const char *id);
struct job *job_find(struct mgr *m, const char *id);
void job_pipe_event(struct mgr *m, struct ev *ev, uint32_t events);
void job_timers(struct mgr *m);
int64_t job_next_deadline(struct mgr *m);
void jobs_lose_all(struct mgr *m, const char *why);
/* Kill every job (corrald is stopping); their ends are recorded. */
void jobs_kill_all(struct mgr *m);
void jobs_reap(struct mgr *m);
/* Once per loop turn: one store_sync for the turn's group commits, then
 * what they let corrald tell (STARTED, final records). */
void jobs_settle(struct mgr *m);
void job_client_gone(struct mgr *m, struct client *c);

/* input.c: a job's stdin from the connection that ran it (docs/tty.md) */
void input_event(struct mgr *m, struct ev *ev, uint32_t events);
void input_message(struct mgr *m, struct client *c, const struct wire_msg *msg);

/* follow.c */
int follow_start(struct mgr *m, struct client *c, const char *id,
		 uint32_t streams, bool live, struct cerr *e);
/* Push what c may get now: 1 sequence finished, 0 wait (socket or
 * data), -1 error (c to be closed, e set). */
int follow_push(struct mgr *m, struct client *c, struct cerr *e);
void follow_detach(struct client *c);
void logf_wake(struct mgr *m, struct logf *l);

/* helper.c */
int helper_spawn(struct mgr *m, struct cerr *e);
void helper_event(struct mgr *m, uint32_t events);
void helper_reaped(struct mgr *m, pid_t pid);
void helper_down(struct mgr *m, const char *why);
void helper_close(struct mgr *m);
/* Ask the helper its link version (after READY, and after a reload). */
void hlink_hello(struct mgr *m);
/* A link to a running helper, handed over (a reload's, or the fd
 * store's at a restart, where pid is 0: not corrald's child, unknown
 * until HELD_END); ready: it has sent READY already. */
int helper_adopt(struct mgr *m, int fd, pid_t pid, bool ready, struct cerr *e);

/* retention.c */
struct store_pick;
struct prune_count {
	bool dry;		/* count only */
	uint32_t batch;		/* most of each kind per pass (0: the default) */
	struct store_pick *picks;	/* room for batch (NULL: the pass's own) */
	bool more;		/* a batch was full: more is left */
	unsigned logs, jobs, audit;
	uint64_t log_bytes;
};
/* One pass of every retention rule, a batch of each. */
int prune_pass(struct mgr *m, struct prune_count *pc, struct cerr *e);
void prune_describe(const struct prune_count *pc, char *buf, size_t len);
/* From the timer: a pass when one is due, audited, and the next one set. */
void prune_timer(struct mgr *m);

/* queue.c */
int queue_place(struct mgr *m, uint32_t uid, bool blocked, bool no_queue,
		struct cerr *e);
int queue_add(struct mgr *m, struct client *c, const struct qspec *q,
	      struct job_live *out, struct cerr *e);
struct qjob *queue_find(struct mgr *m, const char *id);
/* Start what the caps allow now (the loop calls it when m->q_kick). */
void queue_schedule(struct mgr *m);
/* Cancel a queued job (stop, kill); ESRCH if it is not queued. */
int queue_cancel(struct mgr *m, const char *id, const char *why,
		 struct cerr *e);
/* A job's end is recorded: the jobs waiting for it go on or are
 * cancelled, and a slot is free. */
void queue_job_ended(struct mgr *m, const char *id);
/* A queued job's place and why it waits; false if it is not queued. */
bool queue_live(struct mgr *m, const char *id, struct job_live *out);
/* Its log, for a follower (created on first use). */
struct logf *queue_log(struct mgr *m, const char *id);
void queue_client_gone(struct mgr *m, struct client *c);
/* Start-up: the queued rows of the store, back in memory. */
int queue_load(struct mgr *m, struct cerr *e);
/* corrald stops: clients waiting in the queue are told; the jobs stay. */
void queue_stop_waiters(struct mgr *m);
/* Reload: a connection waits on for queued job id; its id. */
int queue_attach(struct mgr *m, struct client *c, const char *id);
const char *queue_job_id(const struct qjob *q);
/* Running jobs (they hold a slot), all or uid's. */
uint32_t queue_running(struct mgr *m, bool one, uint32_t uid);

/* resume.c: reload in place (docs/restart.md) */
struct resume;
/* SIGHUP: stop accepting, let connections come to rest, then exec. */
void reload_begin(struct mgr *m);
/* From the loop while reloading: exec once everything is at rest or
 * the deadline passed (returns only if the exec failed). */
void reload_poll(struct mgr *m);
/* Start-up: read a predecessor's records (none: 0 and m->resume NULL). */
int resume_read(struct mgr *m, struct cerr *e);
/* Whether job id is a predecessor's running job, taken over. */
bool resume_has_job(const struct mgr *m, const char *id);
/* Start-up, once the store and the loop are there: take over the
 * listener, the helper link, the jobs and the connections. */
int resume_adopt(struct mgr *m, struct cerr *e);
/* Checks of an fd handed over (a reload's, the fd store's): open and of
 * the kind named (CLOEXEC set again); a SOCK_SEQPACKET helper link; a
 * pty master.  The fd, or -1 with e set. */
int check_fd(int fd, mode_t kind, const char *what, struct cerr *e);
int check_link_fd(int fd, struct cerr *e);
int check_master_fd(int fd, struct cerr *e);

/* fdstore.c: systemd's file descriptor store, so that running jobs
 * survive a crash or a restart of corrald (docs/restart.md) */
struct fdstore;
struct job;
/* Start-up: NOTIFY_SOCKET, and the fds a restart hands back (LISTEN_*):
 * checked, by name; unset after use. */
int fdstore_init(struct mgr *m, struct cerr *e);
/* Whether SIGTERM leaves the jobs running: the helper link is parked. */
bool fdstore_used(const struct mgr *m);
/* Whether job id's output came back from the store. */
bool fdstore_has_job(const struct mgr *m, const char *id);
/* Once the store and the loop are there: the helper link and the jobs
 * taken back (1), or none came back (0). */
int fdstore_adopt(struct mgr *m, struct cerr *e);
/* Park fd under its name (FDN_HELPER: the helper link, which replaces
 * any parked before; id NULL), or let go of a parked one. */
void fdstore_park(struct mgr *m, int fd, enum fdname_kind kind, const char *id);
void fdstore_unpark(struct mgr *m, enum fdname_kind kind, const char *id);
/* Read a job's output (up to cap) without consuming it from a pipe
 * while the store is in use; fdstore_drop consumes it once it is
 * logged.  As read(2) otherwise. */
ssize_t fdstore_peek(struct mgr *m, int fd, bool is_pipe, uint8_t *buf, size_t cap);
void fdstore_drop(struct mgr *m, int fd, bool is_pipe, size_t n);
/* READY=1 to systemd, once serving. */
void fdstore_ready(struct mgr *m);
/* The re-sync with the helper (helper_link.c): after its VERSION, each
 * HELD and HELD_END. */
void fdstore_version(struct mgr *m);
void fdstore_held(struct mgr *m, const struct wire_msg *msg);
void fdstore_held_end(struct mgr *m, const struct wire_msg *msg);

/* client.c, for resume.c */
bool client_at_rest(const struct mgr *m, const struct client *c);
/* Everyone stops reading requests once at rest (reloading). */
void clients_freeze(struct mgr *m);
/* A connection handed over: identity again from the kernel, caps. */
struct client *client_adopt(struct mgr *m, int fd, const char *via);

/* logging to stderr (journald adds the time) */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
