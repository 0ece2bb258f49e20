/* Starting jobs through the helper and collecting what they did. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const default_env[] = { "PATH=/usr/bin:/bin", "CRLT_JOB=1",
					   NULL };

void jobreq_init(struct jobreq *r, const char *probe_cmd, const char *arg)
{
	memset(r, 0, sizeof *r);
	r->uid = S.job_uid;
	r->argv[0] = S.probe;
	r->argv[1] = probe_cmd;
	r->argv[2] = arg;
	r->cwd = "/";
}

int job_build(const struct jobreq *r, const char *id, struct wire_out *o)
{
	const char *const *env = r->env ? r->env : default_env;

	wire_out_init(o, &proto_helper_req, H_START);
	wire_put_str(o, F_JOB_ID, id);
	wire_put_u32(o, F_UID, r->uid);
	for (int i = 0; i < JOB_ARGV_MAX && r->argv[i]; i++)
		wire_put_str(o, F_ARGV, r->argv[i]);
	for (; *env; env++)
		wire_put_str(o, F_ENV, *env);
	wire_put_str(o, F_CWD, r->cwd);
	if (r->memory_max)
		wire_put_u64(o, F_MEMORY_MAX, r->memory_max);
	if (r->pids_max)
		wire_put_u64(o, F_PIDS_MAX, r->pids_max);
	if (r->has_ns_off)
		wire_put_u32(o, F_NS_OFF, r->ns_off);
	if (r->rootfs)
		wire_put_str(o, F_ROOTFS, r->rootfs);
	if (r->network)
		wire_put_str(o, F_NETWORK, r->network);
	return 0;
}

static int make_pipes(struct job *j, int w[2])
{
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(o[0]);
		close(o[1]);
		return -1;
	}
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	j->out = o[0];
	j->err = e[0];
	w[0] = o[1];
	w[1] = e[1];
	return 0;
}

static void job_reset(struct job *j, const char *id)
{
	memset(j, 0, sizeof *j);
	j->out = j->err = -1;
	snprintf(j->id, sizeof j->id, "%s", id);
}

int job_send(struct helper *h, const struct jobreq *r, struct job *j)
{
	char uuid[37];
	struct wire_out o;
	struct cerr e;
	int w[2], rc = -1;

	if (!r->job_id)
		make_uuid(uuid);
	job_reset(j, r->job_id ? r->job_id : uuid);
	if (make_pipes(j, w) < 0)
		return -1;
	job_build(r, j->id, &o);
	wire_put_fd(&o, w[0]);
	wire_put_fd(&o, w[1]);
	if (wire_out_finish(&o, &e) < 0 || wire_send_packet(h->sock, &o, &e) < 0)
		fprintf(stderr, "harness: START not sent: %s\n", e.msg);
	else
		rc = 0;
	wire_out_free(&o);
	close(w[0]);
	close(w[1]);
	return rc;
}

int job_send_raw(struct helper *h, struct wire_out *o, const char *id,
		 struct job *j)
{
	int w[2], rc;

	job_reset(j, id);
	if (make_pipes(j, w) < 0)
		return -1;
	rc = raw_send(h->sock, o->buf, o->len, w, 2);
	close(w[0]);
	close(w[1]);
	if (rc < 0)
		fprintf(stderr, "harness: raw send: %s\n", strerror(-rc));
	return rc;
}

static void copy_str(char *dst, size_t n, const struct wire_msg *m, uint16_t id)
{
	const char *s = wire_str(m, id);
	snprintf(dst, n, "%s", s ? s : "");
}

int job_await_reply(struct helper *h, struct job *j, int timeout_ms)
{
	struct wire_msg m;
	int rc = helper_next(h, TBIT(H_STARTED) | TBIT(H_START_FAILED) | TBIT(H_ERROR),
			     j->id, j, timeout_ms, &m);

	if (rc != 1)
		return rc;
	j->reply = m.type;
	j->pid = wire_u32(&m, F_PID, 0);
	j->errnum = (int)wire_u32(&m, F_ERRNO, 0);
	snprintf(j->stage, sizeof j->stage, "%s",
		 wire_has(&m, F_STAGE) ? stage_name(wire_u32(&m, F_STAGE, 0)) : "");
	copy_str(j->msg, sizeof j->msg, &m, F_MESSAGE);
	wire_msg_free(&m);
	return 1;
}

static void drain_now(struct helper *h, struct job *j)
{
	struct wire_msg m;

	/* types 0 never matches: this only reads the pipes (and queues
	 * events) until a short quiet spell. */
	for (int i = 0; i < 20 && (j->out >= 0 || j->err >= 0); i++)
		if (helper_next(h, 0, NULL, j, 20, &m) < 0)
			break;
}

int job_await_exit(struct helper *h, struct job *j, int timeout_ms)
{
	struct wire_msg m;
	int rc = helper_next(h, TBIT(H_EXITED), j->id, j, timeout_ms, &m);

	if (rc != 1)
		return rc;
	j->exited = true;
	j->wstatus = wire_u32(&m, F_WSTATUS, 0);
	j->cpu_usec = wire_u64(&m, F_CPU_USEC, 0);
	wire_msg_free(&m);
	drain_now(h, j);
	return 1;
}

int job_await_output(struct helper *h, struct job *j, const char *needle,
		     int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	struct wire_msg m;

	while (!strstr(j->outbuf, needle)) {
		if (now_ms() >= end)
			return 0;
		if (helper_next(h, 0, NULL, j, 50, &m) < 0)
			return -1;
	}
	return 1;
}

void job_close(struct job *j)
{
	if (j->out >= 0)
		close(j->out);
	if (j->err >= 0)
		close(j->err);
	j->out = j->err = -1;
}

void job_dump(const struct job *j)
{
	static const char *const names[] = { "READY", "STARTED", "START_FAILED",
					     "EXITED", "ERROR" };
	const char *t = j->reply >= H_READY && j->reply <= H_ERROR
				? names[j->reply - H_READY] : "(no reply)";

	fprintf(stderr, "  job %s: %s stage=%s errno=%d msg=\"%s\" pid=%u\n"
		"  exited=%d wstatus=0x%x\n  stdout: %s\n  stderr: %s\n",
		j->id, t, j->stage, j->errnum, j->msg, j->pid, j->exited,
		j->wstatus, j->outbuf, j->errbuf);
}

int job_run(struct helper *h, const struct jobreq *r, struct job *j)
{
	if (job_send(h, r, j) < 0)
		return -1;
	if (job_await_reply(h, j, WAIT_MS) != 1 || j->reply != H_STARTED ||
	    job_await_exit(h, j, WAIT_MS) != 1) {
		job_dump(j);
		return -1;
	}
	return 0;
}

/* The helper must not keep the pipe ends it was given: once it refused
 * (or the job ended) every write end is closed and we read EOF. */
bool pipes_closed(struct job *j, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (j->out >= 0 || j->err >= 0) {
		struct pollfd p[2] = { { j->out, POLLIN, 0 }, { j->err, POLLIN, 0 } };
		long left = end - now_ms();
		if (left <= 0 || poll(p, 2, (int)left) <= 0)
			return false;
		if (p[0].revents)
			pipe_drain(&j->out, j->outbuf, sizeof j->outbuf, &j->outlen);
		if (p[1].revents)
			pipe_drain(&j->err, j->errbuf, sizeof j->errbuf, &j->errlen);
	}
	return true;
}
