#include "libcorral.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse.h"

#ifndef DEFAULT_SOCKET
#error "DEFAULT_SOCKET must be defined (see client/build.mk)"
#endif

const char *corral_socket_path(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv("CORRAL_SOCKET");
	if (env && *env)
		return env;
	return DEFAULT_SOCKET;
}

#define DEFAULT_TIMEOUT_S 30

static int timeout_from_env(void)
{
	const char *v = getenv("CORRAL_TIMEOUT");
	struct cerr e;
	uint64_t s;

	if (!v || !*v || parse_u64(v, &s, &e) < 0 || s > 24 * 3600)
		return DEFAULT_TIMEOUT_S * 1000;
	return (int)s * 1000;
}

/* A listener whose backlog is full (a stopped corrald) makes a blocking
 * connect wait for ever: connect without blocking, retrying until the
 * timeout. */
static int connect_bounded(int fd, const struct sockaddr_un *sa, int timeout_ms)
{
	int waited = 0, rc;

	while ((rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa)) < 0 &&
	       (errno == EAGAIN || errno == EINTR)) {
		if (timeout_ms && waited >= timeout_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		poll(NULL, 0, 20);
		waited += 20;
	}
	return rc;
}

int corral_connect(struct corral_conn *c, const char *path, struct cerr *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int rc;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->wake_fd = -1;
	c->timeout_ms = timeout_from_env();
	if (strlen(path) >= sizeof sa.sun_path)
		return cerr_set(e, ENAMETOOLONG,
				"socket path %s is longer than %zu bytes", path,
				sizeof sa.sun_path - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cerr_sys(e, "socket");
	rc = connect_bounded(fd, &sa, c->timeout_ms);
	if (rc < 0) {
		if (errno == ETIMEDOUT)
			return cerr_set(e, ETIMEDOUT,
					"corrald at %s accepted no connection in %d s (is it stopped or overloaded?)",
					path, c->timeout_ms / 1000);
		if (errno == EACCES)
			return cerr_sys(e, "cannot connect to corrald at %s (is your user in group corral?)",
					path);
		return cerr_sys(e, "cannot connect to corrald at %s (is corrald running?)",
				path);
	}
	if (fcntl(fd, F_SETFL, 0) < 0)
		return cerr_sys(e, "socket");
	c->fd = take_fd(&fd);
	return 0;
}

void corral_names_of(struct corral_conn *c, uint32_t uid)
{
	c->names_of_set = true;
	c->names_of = uid;
}

void corral_close(struct corral_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	wire_reader_reset(&c->rd);
}

/* A failure inside a reply sequence leaves unread replies on the stream,
 * so the connection cannot be reused. */
static int conn_fail(struct corral_conn *c)
{
	corral_close(c);
	return -1;
}

static int recv_msg(struct corral_conn *c, struct wire_msg *m, struct cerr *e);

static int send_msg(struct corral_conn *c, struct wire_out *o, struct cerr *e)
{
	int rc;

	c->remote_error = false;
	c->error_stage = STAGE_NONE;
	if (c->fd < 0)
		return cerr_set(e, ENOTCONN, "not connected to corrald");
	rc = wire_out_finish(o, e);
	if (rc == 0)
		rc = wire_send_stream(c->fd, o, e);
	c->awaiting = true;
	wire_out_free(o);
	if (rc < 0 && (e->num == EPIPE || e->num == ECONNRESET)) {
		/* corrald may have refused us and closed before we spoke:
		 * its ERROR is still waiting to be read, and says why. */
		struct wire_msg m;
		struct cerr re;
		if (recv_msg(c, &m, &re) < 0 && c->remote_error) {
			*e = re;
			return -1;
		}
		if (c->fd >= 0 && !c->remote_error)
			wire_msg_free(&m);
	}
	if (rc < 0)
		return cerr_wrap(e, "sending to corrald");
	return 0;
}

/* Wait until the socket is readable, serving the wake fd meanwhile, and
 * for the first message of a reply at most timeout_ms.  Only between
 * messages: inside one the rest is already on its way. */
static int wait_readable(struct corral_conn *c, struct cerr *e)
{
	int limit = c->awaiting && c->timeout_ms ? c->timeout_ms : -1;
	int64_t end = 0;
	struct timespec ts;

	if (c->rd.hlen > 0 || (c->wake_fd < 0 && limit < 0))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + limit;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = c->wake_fd, .events = POLLIN },
		};
		int left = -1, n;

		if (limit >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			left = (int)(end - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
			if (left <= 0)
				return cerr_set(e, ETIMEDOUT,
						"corrald did not answer in %d s (is it stopped or overloaded? CORRAL_TIMEOUT sets the wait)",
						c->timeout_ms / 1000);
		}
		n = poll(p, c->wake_fd >= 0 ? 2 : 1, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(e, "poll");
		}
		if (c->wake_fd >= 0 && p[1].revents && c->on_wake)
			c->on_wake(c->wake_ctx);
		if (p[0].revents)
			return 0;
	}
}

/* Read one reply.  ERROR becomes a failure carrying corrald's errno and
 * message; EOF and framing errors are local failures. */
static int recv_msg(struct corral_conn *c, struct wire_msg *m, struct cerr *e)
{
	int rc;

	if (wait_readable(c, e) < 0)
		return conn_fail(c);
	rc = wire_reader_read(c->fd, &c->rd, &proto_client_rep, m, e);
	c->awaiting = false;
	if (rc == WIRE_EOF) {
		cerr_set(e, ECONNRESET, "corrald closed the connection");
		return conn_fail(c);
	}
	if (rc != WIRE_READY) {
		cerr_wrap(e, "reading from corrald");
		return conn_fail(c);
	}
	if (m->type == C_ERROR) {
		c->remote_error = true;
		c->error_stage = wire_u32(m, F_STAGE, STAGE_NONE);
		cerr_set(e, (int)wire_u32(m, F_ERRNO, 0), "%s",
			 wire_str(m, F_MESSAGE));
		wire_msg_free(m);
		return -1;
	}
	return 0;
}

static int unexpected(struct corral_conn *c, struct wire_msg *m,
		      const char *req, struct cerr *e)
{
	cerr_set(e, EPROTO, "corrald answered %s with an unexpected %s",
		 req, m->spec ? m->spec->name : "message");
	wire_msg_free(m);
	return conn_fail(c);
}

/* --- encoding requests ------------------------------------------------ */

int corral_run(struct corral_conn *c, const struct corral_run_req *req,
	       char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_RUN);
	for (size_t i = 0; i < req->argc; i++)
		wire_put_str(&o, F_ARGV, req->argv[i]);
	for (size_t i = 0; i < req->nenv; i++)
		wire_put_str(&o, F_ENV, req->env[i]);
	wire_put_str(&o, F_CWD, req->cwd);
	wire_put_u32(&o, F_NS_OFF, req->ns_off);
	runopts_put(&o, &req->opt, SC_JOB | SC_MGR);
	if (req->after)
		wire_put_str(&o, F_AFTER, req->after);
	if (req->after_ok)
		wire_put_u32(&o, F_AFTER_OK, 1);
	if (req->no_queue)
		wire_put_u32(&o, F_NO_QUEUE, 1);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type == C_QUEUED) {
		/* Waiting in the queue: STARTED (or ERROR) comes later. */
		snprintf(id, JOB_ID_LEN + 1, "%s", wire_str(&m, F_JOB_ID));
		bool stop = req->on_queued &&
			req->on_queued(req->queued_ctx, id, wire_u32(&m, F_POSITION, 0),
				       wire_str(&m, F_WAITING));
		wire_msg_free(&m);
		if (stop)
			return 1;
		if (recv_msg(c, &m, e) < 0)
			return -1;
	}
	if (m.type != C_STARTED)
		return unexpected(c, &m, "RUN", e);
	snprintf(id, JOB_ID_LEN + 1, "%s", wire_str(&m, F_JOB_ID));
	wire_msg_free(&m);
	return 0;
}

/* --- decoding a JOB ----------------------------------------------------- */

#define OPT_U64(j, m, fld, has, id) \
	do { (j)->has = wire_has(m, id); (j)->fld = wire_u64(m, id, 0); } while (0)
#define OPT_U32(j, m, fld, has, id) \
	do { (j)->has = wire_has(m, id); (j)->fld = wire_u32(m, id, 0); } while (0)

static void get_times(const struct wire_msg *m, struct corral_job *j)
{
	OPT_U32(j, m, pid, has_pid, F_PID);
	j->created_ms = wire_u64(m, F_CREATED_MS, 0);
	OPT_U64(j, m, started_ms, has_started, F_STARTED_MS);
	OPT_U64(j, m, ended_ms, has_ended, F_ENDED_MS);
	OPT_U32(j, m, exit_code, has_exit_code, F_EXIT_CODE);
	OPT_U32(j, m, signal, has_signal, F_SIGNAL);
	OPT_U32(j, m, wstatus, has_wstatus, F_WSTATUS);
	OPT_U64(j, m, oom_kills, has_oom, F_OOM_KILLS);
	OPT_U64(j, m, cpu_usec, has_cpu, F_CPU_USEC);
	OPT_U64(j, m, memory_peak, has_peak, F_MEMORY_PEAK);
	OPT_U32(j, m, err, has_errno, F_ERRNO);
	OPT_U64(j, m, log_deleted_ms, has_log_deleted, F_LOG_DELETED_MS);
	OPT_U64(j, m, log_bytes, has_log_bytes, F_LOG_BYTES);
	OPT_U64(j, m, log_dropped, has_log_dropped, F_LOG_DROPPED);
}

/* Take over m (its arena backs every string of j). */
static int job_from_msg(struct wire_msg *m, struct corral_job *j,
			struct cerr *e)
{
	struct wire_msg *keep = malloc(sizeof *keep);

	memset(j, 0, sizeof *j);
	if (!keep) {
		wire_msg_free(m);
		return cerr_sys(e, "decoding a job record");
	}
	*keep = *m;
	j->priv = keep;
	snprintf(j->id, sizeof j->id, "%s", wire_str(m, F_JOB_ID));
	j->uid = wire_u32(m, F_UID, 0);
	j->user = wire_str(m, F_USER);
	j->state = wire_str(m, F_STATE);
	j->cwd = wire_str(m, F_CWD);
	j->error = wire_str(m, F_ERROR);
	j->stage = wire_u32(m, F_STAGE, STAGE_NONE);
	j->after = wire_str(m, F_AFTER);
	j->after_ok = wire_u32(m, F_AFTER_OK, 0);
	j->waiting = wire_str(m, F_WAITING);
	j->position = wire_u32(m, F_POSITION, 0);
	j->ns_off = wire_u32(m, F_NS_OFF, 0);
	j->argv = wire_strv(keep, F_ARGV, &j->argc);
	j->env = wire_strv(keep, F_ENV, &j->nenv);
	runopts_get(keep, &j->opt);
	get_times(m, j);
	if (!j->argv || !j->env) {
		corral_job_free(j);
		return cerr_sys(e, "decoding a job record");
	}
	return 0;
}

void corral_job_free(struct corral_job *j)
{
	free(j->argv);
	free(j->env);
	if (j->priv) {
		wire_msg_free(j->priv);
		free(j->priv);
	}
	memset(j, 0, sizeof *j);
}

/* A job reference, and whose names it means if that was set. */
static void put_ref(struct corral_conn *c, struct wire_out *o, const char *ref)
{
	wire_put_str(o, F_JOB_REF, ref);
	if (c->names_of_set)
		wire_put_u32(o, F_UID, c->names_of);
}

/* --- FOLLOW ------------------------------------------------------------- */

static int deliver_log(struct corral_conn *c, struct wire_msg *m,
		       corral_log_fn on_log, void *ctx, struct cerr *e)
{
	size_t len = 0;
	const uint8_t *d = wire_bytes(m, F_DATA, &len);
	int rc = 0;

	if (on_log)
		rc = on_log(ctx, wire_u32(m, F_STREAM, 0),
			    wire_u64(m, F_TIME_MS, 0), d, len, e);
	wire_msg_free(m);
	return rc < 0 ? conn_fail(c) : 0;
}

int corral_follow(struct corral_conn *c, const char *ref, uint32_t streams,
		  bool follow, corral_log_fn on_log, void *ctx,
		  struct corral_job *job, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_FOLLOW);
	put_ref(c, &o, ref);
	wire_put_u32(&o, F_STREAMS, streams);
	wire_put_u32(&o, F_FOLLOW, follow ? 1 : 0);
	if (send_msg(c, &o, e) < 0)
		return -1;
	/* A live stream may be silent as long as its job is. */
	if (follow)
		c->awaiting = false;
	for (;;) {
		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_JOB)
			return job_from_msg(&m, job, e);
		if (m.type != C_LOG_DATA)
			return unexpected(c, &m, "FOLLOW", e);
		if (deliver_log(c, &m, on_log, ctx, e) < 0)
			return -1;
	}
}

/* --- LIST / STATUS ------------------------------------------------------ */

int corral_list(struct corral_conn *c, const struct corral_list_req *q,
		corral_job_fn fn, void *ctx, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_LIST);
	if (q->all)
		wire_put_u32(&o, F_ALL, 1);
	if (q->has_uid)
		wire_put_u32(&o, F_UID, q->uid);
	if (q->states)
		wire_put_u32(&o, F_STATES, q->states);
	if (q->name)
		wire_put_str(&o, F_NAME, q->name);
	if (q->limit)
		wire_put_u32(&o, F_LIMIT, q->limit);
	if (send_msg(c, &o, e) < 0)
		return -1;
	for (;;) {
		struct corral_job j;
		int rc;

		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_DONE) {
			wire_msg_free(&m);
			return 0;
		}
		if (m.type != C_JOB)
			return unexpected(c, &m, "LIST", e);
		if (job_from_msg(&m, &j, e) < 0)
			return conn_fail(c);
		rc = fn(ctx, &j, e);
		corral_job_free(&j);
		if (rc < 0)
			return conn_fail(c);
	}
}


int corral_status(struct corral_conn *c, const char *ref,
		  struct corral_job *job, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_STATUS);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_JOB)
		return unexpected(c, &m, "STATUS", e);
	return job_from_msg(&m, job, e);
}

/* --- STOP / KILL / WHOAMI ------------------------------------------------- */

static int expect_ok(struct corral_conn *c, const char *req,
		     char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_msg m;
	const char *s;

	if (recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, req, e);
	s = wire_str(&m, F_JOB_ID);
	if (id)
		snprintf(id, JOB_ID_LEN + 1, "%s", s ? s : "");
	s = wire_str(&m, F_MESSAGE);
	snprintf(c->note, sizeof c->note, "%s", s ? s : "");
	wire_msg_free(&m);
	return 0;
}

int corral_stop(struct corral_conn *c, const char *ref, bool has_grace,
		uint64_t grace_ms, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_STOP);
	put_ref(c, &o, ref);
	if (has_grace)
		wire_put_u64(&o, F_GRACE_MS, grace_ms);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "STOP", id, e);
}

int corral_kill(struct corral_conn *c, const char *ref,
		char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_KILL);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "KILL", id, e);
}

int corral_rm(struct corral_conn *c, const char *ref,
	      char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_RM);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "RM", id, e);
}

int corral_prune(struct corral_conn *c, bool dry, char *msg, size_t len,
		 struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;
	const char *s;

	wire_out_init(&o, &proto_client_req, C_PRUNE);
	if (dry)
		wire_put_u32(&o, F_DRY_RUN, 1);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, "PRUNE", e);
	s = wire_str(&m, F_MESSAGE);
	snprintf(msg, len, "%s", s ? s : "");
	wire_msg_free(&m);
	return 0;
}

int corral_whoami(struct corral_conn *c, uint32_t *uid, bool *admin,
		  struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, "WHOAMI", e);
	if (!wire_has(&m, F_UID)) {
		wire_msg_free(&m);
		cerr_set(e, EPROTO, "corrald answered WHOAMI without a uid");
		return conn_fail(c);
	}
	*uid = wire_u32(&m, F_UID, 0);
	*admin = wire_u32(&m, F_ADMIN, 0) != 0;
	wire_msg_free(&m);
	return 0;
}

/* --- AUDIT --------------------------------------------------------------- */

static void audit_from_msg(const struct wire_msg *m, struct corral_audit_row *r)
{
	r->time_ms = wire_u64(m, F_TIME_MS, 0);
	r->uid = wire_u32(m, F_UID, 0);
	r->has_pid = wire_has(m, F_PID);
	r->pid = wire_u32(m, F_PID, 0);
	r->action = wire_str(m, F_ACTION);
	r->job_id = wire_str(m, F_JOB_ID);
	r->outcome = wire_str(m, F_OUTCOME);
	r->detail = wire_str(m, F_DETAIL);
}

int corral_audit(struct corral_conn *c, const struct corral_audit_req *q,
		 corral_audit_fn fn, void *ctx, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_AUDIT);
	if (q->limit)
		wire_put_u32(&o, F_LIMIT, q->limit);
	if (q->has_uid)
		wire_put_u32(&o, F_UID, q->uid);
	if (q->action)
		wire_put_str(&o, F_ACTION, q->action);
	if (q->since_ms)
		wire_put_u64(&o, F_SINCE_MS, q->since_ms);
	if (send_msg(c, &o, e) < 0)
		return -1;
	for (;;) {
		struct corral_audit_row r;
		int rc;

		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_DONE) {
			wire_msg_free(&m);
			return 0;
		}
		if (m.type != C_AUDIT_ROW)
			return unexpected(c, &m, "AUDIT", e);
		audit_from_msg(&m, &r);
		rc = fn(ctx, &r, e);
		wire_msg_free(&m);
		if (rc < 0)
			return conn_fail(c);
	}
}
