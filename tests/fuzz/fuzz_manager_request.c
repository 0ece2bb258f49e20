/* libFuzzer target: arbitrary bytes as a client's request stream into
 * corrald's request layer (reassembly, decoding, validation, reference
 * resolution, dispatch, replies) against a fresh in-memory store, with
 * stubs where corrald would touch the helper or a log file.  Every reply
 * corrald queues must itself be a valid client-link message. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgr.h"
#include "proto.h"

static int stub_launch(struct mgr *m, struct client *c, const char *id,
		       const struct wire_msg *run, const struct job_env *env,
		       struct cerr *e)
{
	(void)m, (void)c, (void)id;
	/* Exercise both the pending path and the "start failed" path. */
	if (wire_u64(run, F_TIMEOUT_MS, 0) & 1)
		return cerr_set(e, EAGAIN, "stub: cannot launch");
	return 0;
}

static int stub_stop(struct mgr *m, const char *id, bool kill,
		     uint64_t grace_ms, struct cerr *e)
{
	(void)m, (void)kill;
	if (grace_ms & 1)
		return cerr_set(e, ESRCH, "job %s is not running", id);
	return 0;
}

static int stub_follow(struct mgr *m, struct client *c, const char *id,
		       uint32_t streams, bool live, struct cerr *e)
{
	struct wire_out o;
	int r;

	(void)streams, (void)live;
	r = store_job_msg(m->store, id, NULL, &o, e);
	if (r == 0)
		r = outq_push(&c->q, &o, e);
	wire_out_free(&o);
	return r;
}

static int stub_signal(struct mgr *m, const char *id, int sig, bool fg,
		       struct cerr *e)
{
	return sig == SIGUSR2 ? cerr_set(e, ESRCH, "stub: not running") : 0;
}

static bool stub_stopping(struct mgr *m, const char *id)
{
	(void)m;
	return id[0] == 'a';
}

static int stub_rm_log(struct mgr *m, const char *id, struct cerr *e)
{
	(void)m, (void)id, (void)e;
	return 0;
}

static int stub_prune(struct mgr *m, struct prune_count *pc, struct cerr *e)
{
	(void)m, (void)e;
	pc->logs += pc->dry ? 2 : 1;
	return 0;
}

static bool stub_live_output(struct mgr *m, const char *id, struct job_live *out)
{
	(void)m, (void)id;
	memset(out, 0, sizeof *out);
	out->output = id[0] == '0';
	out->position = id[0] == '1';
	out->stored = 7;
	out->dropped = 0;
	return id[0] == '0' || id[0] == '1';
}

/* Start now, queue or refuse, by the uid's low bits and the flags. */
static int stub_place(struct mgr *m, uint32_t uid, bool blocked, bool no_queue,
		      struct cerr *e)
{
	(void)m;
	if (!blocked && !(uid & 1))
		return 0;
	if (no_queue)
		return cerr_set(e, EAGAIN, "stub: too many jobs");
	return 1;
}

static int stub_enqueue(struct mgr *m, struct client *c, const struct qspec *q,
			struct job_live *out, struct cerr *e)
{
	(void)m, (void)c;
	memset(out, 0, sizeof *out);
	if (q->priority & 1)
		return cerr_set(e, ENOMEM, "stub: cannot queue");
	out->position = q->blocked ? 0 : 1 + q->priority;
	snprintf(out->waiting, sizeof out->waiting, "stub: waiting");
	return 0;
}

/* INPUT and WINSIZE: a connection that ran no job is told so. */
static void stub_input(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	(void)m;
	if (!c->input)
		reply_error(c, EPROTO, STAGE_NONE, "%s: stub", msg->spec->name);
}

static const struct mgr_ops stub_ops = {
	.launch = stub_launch, .stop = stub_stop, .signal = stub_signal,
	.follow = stub_follow,
	.rm_log = stub_rm_log, .prune = stub_prune, .stopping = stub_stopping,
	.live_output = stub_live_output, .place = stub_place,
	.enqueue = stub_enqueue, .input = stub_input,
};

static void seed_jobs(struct store *s)
{
	static const char *const ids[] = {
		"aaaa1111-0000-4000-8000-000000000001",
		"aaaa2222-0000-4000-8000-000000000002",
		"bbbb0000-0000-4000-8000-000000000003",
	};
	struct wire_out o;
	struct wire_msg run;
	struct cerr e;

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_ARGV, "/bin/true");
	wire_put_str(&o, F_CWD, "/");
	wire_put_str(&o, F_NAME, "web");
	if (wire_out_finish(&o, &e) < 0 ||
	    wire_decode(&proto_client_req, o.buf, o.len, &run, &e) < 0)
		abort();
	for (unsigned i = 0; i < 3; i++) {
		struct audit_rec a = { .time_ms = i, .uid = 1000 + i % 2,
				       .action = "run", .job_id = ids[i],
				       .outcome = "ok" };
		if (store_insert_run(s, ids[i], a.uid, "u", i, &run, NULL, 0, &a, &e) < 0)
			abort();
	}
	wire_msg_free(&run);
	wire_out_free(&o);
}

/* Every queued reply must decode as a client-link message. */
static void check_replies(struct outq *q)
{
	struct wire_msg m;
	struct cerr e;

	for (struct oent *p = q->head; p; p = p->next) {
		if (wire_decode(&proto_client_rep, p->b->data, p->b->len, &m, &e) < 0)
			abort();
		if (m.type < C_STARTED)
			abort();	/* corrald never sends a request */
		wire_msg_free(&m);
	}
	outq_clear(q);
}

static void finish_sequence(struct mgr *m, struct client *c)
{
	for (int i = 0; i < 10000 && c->state != SS_IDLE; i++) {
		if (c->state == SS_RUN) {
			c->state = SS_IDLE;	/* as if STARTED came back */
			break;
		}
		check_replies(&c->q);
		req_more(m, c);
	}
	if (c->state != SS_IDLE)
		abort();	/* a LIST that never ends */
	check_replies(&c->q);
}

/* A fresh store every so many inputs: opening one (schema, statements)
 * costs more than a request, and only ref resolution and list lengths
 * depend on what earlier inputs inserted. */
#define RUNS_PER_STORE 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mgr m;
	static unsigned runs;
	struct client c;
	struct cerr e;

	if (runs++ % RUNS_PER_STORE == 0) {
		store_close(m.store);
		memset(&m, 0, sizeof m);
		m.ops = &stub_ops;
		m.conf.stop_grace_ms = 10000;
		if (store_open(&m.store, ":memory:", &e) < 0)
			abort();
		seed_jobs(m.store);
	}
	/* Who is asking comes from the input's length, so any valid
	 * client-link message is a useful seed as it is. */
	memset(&c, 0, sizeof c);
	c.fd = -1;
	c.who.uid = size & 1 ? 1001 : 1000;
	c.who.admin = size & 2;
	c.who.pid = 1;
	strcpy(c.who.user, "fuzz");
	m.helper_ready = !(size & 4);
	while (size > 0) {
		struct wire_msg msg;
		size_t used = 0;
		int r = wire_reader_feed(&c.rd, &proto_client_req, data, size, &used,
					 &msg, &e);
		data += used;
		size -= used;
		if (r == WIRE_ERR || r == WIRE_BAD)
			break;		/* corrald answers ERROR and closes */
		if (r != WIRE_READY)
			continue;
		req_handle(&m, &c, &msg);
		wire_msg_free(&msg);
		finish_sequence(&m, &c);
	}
	wire_reader_reset(&c.rd);
	outq_clear(&c.q);
	return 0;
}
