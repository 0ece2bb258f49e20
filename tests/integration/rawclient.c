/* rawclient SOCKET CASE: one hostile conversation on corrald's client
 * socket, for the integration tier.  Prints "ok CASE: ..." or
 * "FAIL CASE: ..." and exits 0 or 1.
 *
 * Cases:
 *   garbage   64 bytes that are no header     -> ERROR "bad magic", closed
 *   bigbody   header announcing a 10 MB body  -> ERROR "exceeds limit", closed
 *   badtype   a WHOAMI re-typed as 999        -> ERROR "unknown message type", closed
 *   longarg   RUN with an 8193-byte argv[0]   -> ERROR naming argv[0], closed
 *   notreq    DONE (a reply type) as request  -> ERROR, then WHOAMI still answered
 *   input     INPUT, no -i job on the link    -> ERROR naming -i, closed
 *   inseq     RUN -i cat, FOLLOW, WHOAMI      -> ERROR: only INPUT may come, closed
 *   twoinput  RUN -i cat twice                -> the first cat gets EOF and exits
 *   stall     half a header, then silence for
 *             STALL_SECONDS (default 3)       -> connection still open, no reply
 *   idle      nothing at all (half a header
 *             with IDLE_HALF=1)               -> ERROR naming client_idle_timeout,
 *                                                closed; prints the seconds it took
 *   hold      as many connections as corrald
 *             accepts, each proven by WHOAMI  -> prints "held N; refused: MSG" at
 *                                                once, then keeps every one busy
 *                                                with a WHOAMI a second for
 *                                                HOLD_SECONDS (default 30)
 *
 * The bad messages are built with the framing library and then patched,
 * since wire_out_finish refuses to produce them. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "err.h"
#include "proto.h"
#include "wire.h"
#include "wire_io.h"

#define REPLY_TIMEOUT_S 10
#define BIG_BODY (10u * 1024u * 1024u)

struct ctx {
	const char *name;
	const char *path;
	int fd;
	char detail[1024];
};

static int dial(const char *path, struct cerr *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return cerr_sys(e, "socket");
	if (strlen(path) >= sizeof sa.sun_path)
		return cerr_set(e, ENAMETOOLONG, "socket path too long");
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return cerr_sys(e, "connect %s", path);
	/* A reply that never comes must fail the case, not hang it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		return cerr_sys(e, "SO_RCVTIMEO");
	return take_fd(&fd);
}

static int send_all(int fd, const void *buf, size_t len, struct cerr *e)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cerr_sys(e, "send");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Finish o (a valid message), or say why not. */
static int finish(struct wire_out *o, struct cerr *e)
{
	if (wire_out_finish(o, e) < 0)
		return cerr_wrap(e, "building the base message");
	return 0;
}

/* Read one reply; it must be ERROR whose message contains want. */
static int expect_error(struct ctx *c, const char *want, struct cerr *e)
{
	struct wire_reader rd = { 0 };
	struct wire_msg m = { 0 };
	const char *msg;
	int r = wire_reader_read(c->fd, &rd, &proto_client_rep, &m, e);

	wire_reader_reset(&rd);
	if (r == WIRE_EOF)
		return cerr_set(e, EPIPE, "connection closed without an ERROR");
	if (r != WIRE_READY)
		return cerr_wrap(e, "no reply");
	if (m.type != C_ERROR) {
		wire_msg_free(&m);
		return cerr_set(e, EPROTO, "reply type %u, want ERROR", m.type);
	}
	msg = wire_str(&m, F_MESSAGE);
	snprintf(c->detail, sizeof c->detail, "errno %u \"%s\"",
		 wire_u32(&m, F_ERRNO, 0), msg ? msg : "");
	if (!msg || !strstr(msg, want)) {
		cerr_set(e, EPROTO, "ERROR %s does not contain \"%s\"",
			 c->detail, want);
		wire_msg_free(&m);
		return -1;
	}
	wire_msg_free(&m);
	return 0;
}

/* After a framing error corrald must close the connection. */
static int expect_closed(struct ctx *c, struct cerr *e)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, 0);

	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 0;
	if (n < 0)
		return cerr_sys(e, "connection not closed after the ERROR");
	return cerr_set(e, EPROTO, "more bytes after the ERROR");
}

static int case_garbage(struct ctx *c, struct cerr *e)
{
	char junk[64];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)('A' + i % 26);
	if (send_all(c->fd, junk, sizeof junk, e) < 0 ||
	    expect_error(c, "bad magic", e) < 0)
		return -1;
	return expect_closed(c, e);
}

static int case_bigbody(struct ctx *c, struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_ARGV, "true");
	wire_put_str(&o, F_CWD, "/");
	r = finish(&o, e);
	if (r == 0) {
		put_le32(o.buf + 8, BIG_BODY);	/* the header's body length */
		r = send_all(c->fd, o.buf, o.len, e);
	}
	wire_out_free(&o);
	if (r < 0 || expect_error(c, "exceeds limit", e) < 0)
		return -1;
	if (!strstr(c->detail, "10485760"))
		return cerr_set(e, EPROTO, "ERROR %s does not name the size",
				c->detail);
	return expect_closed(c, e);
}

static int case_badtype(struct ctx *c, struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	r = finish(&o, e);
	if (r == 0) {
		put_le16(o.buf + 6, 999);	/* the header's type */
		r = send_all(c->fd, o.buf, o.len, e);
	}
	wire_out_free(&o);
	if (r < 0 || expect_error(c, "unknown message type 999", e) < 0)
		return -1;
	return expect_closed(c, e);
}

/* A valid RUN whose last field is argv[0] at its bound (ARG_LEN_MAX),
 * then one more byte appended to that field and to the body. */
static int case_longarg(struct ctx *c, struct cerr *e)
{
	_cleanup_free_ char *arg = malloc(ARG_LEN_MAX + 1);
	_cleanup_free_ uint8_t *buf = NULL;
	struct wire_out o;
	size_t len;
	int r;

	if (!arg)
		return cerr_sys(e, "malloc");
	memset(arg, 'a', ARG_LEN_MAX);
	arg[ARG_LEN_MAX] = '\0';
	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_CWD, "/");
	wire_put_str(&o, F_ARGV, arg);
	r = finish(&o, e);
	len = o.len;
	buf = r == 0 ? malloc(len + 1) : NULL;
	if (r == 0 && !buf)
		r = cerr_sys(e, "malloc");
	if (r == 0) {
		memcpy(buf, o.buf, len);
		buf[len] = 'a';
		put_le32(buf + 8, (uint32_t)(len + 1 - WIRE_HDR_LEN));
		put_le32(buf + len - ARG_LEN_MAX - 4, ARG_LEN_MAX + 1);
		r = send_all(c->fd, buf, len + 1, e);
	}
	wire_out_free(&o);
	if (r < 0 || expect_error(c, "argv[0] is 8193 bytes", e) < 0)
		return -1;
	return expect_closed(c, e);
}

/* A well-framed message that is no request: refused, link kept. */
/* A reply type sent as a request is refused while decoding (it travels
 * the other way) and the connection closed. */
static int case_notreq(struct ctx *c, struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_client_rep, C_DONE);
	r = finish(&o, e);
	if (r == 0)
		r = send_all(c->fd, o.buf, o.len, e);
	wire_out_free(&o);
	if (r < 0 || expect_error(c, "DONE travels the other way", e) < 0)
		return -1;
	return expect_closed(c, e);
}

static int send_msg(struct ctx *c, struct wire_out *o, struct cerr *e)
{
	int r = finish(o, e);

	if (r == 0)
		r = send_all(c->fd, o->buf, o->len, e);
	wire_out_free(o);
	return r;
}

/* INPUT on a connection that ran no -i job: refused, closed. */
static int case_input(struct ctx *c, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_INPUT);
	wire_put_bytes(&o, F_DATA, "rm -rf ~\n", 9);
	if (send_msg(c, &o, e) < 0 ||
	    expect_error(c, "ran no job with -i or -t", e) < 0)
		return -1;
	return expect_closed(c, e);
}

/* The next reply, which must be of type want. */
static int expect_type(struct ctx *c, uint16_t want, struct wire_msg *m,
		       struct cerr *e)
{
	struct wire_reader rd = { 0 };
	int r = wire_reader_read(c->fd, &rd, &proto_client_rep, m, e);

	wire_reader_reset(&rd);
	if (r != WIRE_READY)
		return cerr_wrap(e, "no reply");
	if (m->type != want) {
		cerr_set(e, EPROTO, "reply %s, want type %u", m->spec->name, want);
		wire_msg_free(m);
		return -1;
	}
	return 0;
}

/* RUN -i of cat; its id in id. */
static int run_cat(struct ctx *c, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_ARGV, "cat");
	wire_put_str(&o, F_CWD, "/");
	wire_put_u64(&o, F_INTERACTIVE, 1);
	if (send_msg(c, &o, e) < 0 || expect_type(c, C_STARTED, &m, e) < 0)
		return -1;
	snprintf(id, JOB_ID_LEN + 1, "%s", wire_str(&m, F_JOB_ID));
	wire_msg_free(&m);
	return 0;
}

/* While corrald follows a job for us, only INPUT may come. */
static int case_inseq(struct ctx *c, struct cerr *e)
{
	char id[JOB_ID_LEN + 1];
	struct wire_out o;

	if (run_cat(c, id, e) < 0)
		return -1;
	wire_out_init(&o, &proto_client_req, C_FOLLOW);
	wire_put_str(&o, F_JOB_REF, id);
	wire_put_u32(&o, F_FOLLOW, 1);
	if (send_msg(c, &o, e) < 0)
		return -1;
	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	if (send_msg(c, &o, e) < 0 ||
	    expect_error(c, "only INPUT and WINSIZE may come", e) < 0)
		return -1;
	return expect_closed(c, e);
}

/* Two -i jobs from one connection: the second RUN ends the first one's
 * input (cat exits), and corrald keeps no link from the first to us. */
static int case_twoinput(struct ctx *c, struct cerr *e)
{
	char id1[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];

	if (run_cat(c, id1, e) < 0 || run_cat(c, id2, e) < 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		struct wire_out o;
		struct wire_msg m;
		bool ended;

		wire_out_init(&o, &proto_client_req, C_STATUS);
		wire_put_str(&o, F_JOB_REF, id1);
		if (send_msg(c, &o, e) < 0 || expect_type(c, C_JOB, &m, e) < 0)
			return -1;
		ended = !strcmp(wire_str(&m, F_STATE), "exited");
		wire_msg_free(&m);
		if (ended) {
			snprintf(c->detail, sizeof c->detail,
				 "the first cat exited; the second runs on");
			return 0;
		}
		usleep(50000);
	}
	return cerr_set(e, ETIMEDOUT, "the first job's input never ended");
}

/* Half a header, then nothing: corrald must neither answer nor block. */
/* The first half of a WHOAMI's header: a request begun, never finished. */
static int send_half_header(struct ctx *c, struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	r = finish(&o, e);
	if (r == 0)
		r = send_all(c->fd, o.buf, WIRE_HDR_LEN / 2, e);
	wire_out_free(&o);
	return r;
}

static int case_stall(struct ctx *c, struct cerr *e)
{
	const char *s = getenv("STALL_SECONDS");
	int secs = s ? atoi(s) : 3;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int r;

	if (send_half_header(c, e) < 0)
		return -1;
	r = poll(&p, 1, secs * 1000);
	if (r < 0)
		return cerr_sys(e, "poll");
	if (r > 0)
		return cerr_set(e, EPROTO, "corrald answered or closed a half header");
	snprintf(c->detail, sizeof c->detail, "held %d s", secs);
	return 0;
}

/* Nothing (or half a header), then corrald must say why and close. */
static int case_idle(struct ctx *c, struct cerr *e)
{
	const char *half = getenv("IDLE_HALF");
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (half && !strcmp(half, "1") && send_half_header(c, e) < 0)
		return -1;
	if (expect_error(c, "client_idle_timeout", e) < 0 ||
	    expect_closed(c, e) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(c->detail + strlen(c->detail), sizeof c->detail - strlen(c->detail),
		 "; closed after %ld ms", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
						(t1.tv_nsec - t0.tv_nsec) / 1000000));
	return 0;
}

/* WHOAMI on fd: 0 answered, 1 refused with ERROR (its message in msg),
 * -1 neither.  A refused connection may already be closed, so a failed
 * send still reads the ERROR corrald sent first. */
static int whoami(int fd, char *msg, size_t len, struct cerr *e)
{
	struct wire_reader rd = { 0 };
	struct wire_msg m = { 0 };
	struct wire_out o;
	const char *s;
	int r;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	r = finish(&o, e);
	if (r == 0)
		(void)send_all(fd, o.buf, o.len, e);
	wire_out_free(&o);
	if (r < 0)
		return -1;
	r = wire_reader_read(fd, &rd, &proto_client_rep, &m, e);
	wire_reader_reset(&rd);
	if (r != WIRE_READY)
		return cerr_set(e, EPROTO, "WHOAMI got no reply");
	r = m.type == C_OK ? 0 : m.type == C_ERROR ? 1 : -1;
	s = wire_str(&m, F_MESSAGE);
	snprintf(msg, len, "%s", s ? s : "");
	if (r < 0)
		cerr_set(e, EPROTO, "WHOAMI answered with type %u", m.type);
	wire_msg_free(&m);
	return r;
}

#define HOLD_MAX 4096

static int case_hold(struct ctx *c, struct cerr *e)
{
	const char *s = getenv("HOLD_SECONDS");
	int secs = s ? atoi(s) : 30, n = 0, lost = 0, r;
	static int fds[HOLD_MAX];
	char refusal[512] = "none", msg[512];

	fds[n++] = c->fd;
	c->fd = -1;
	if (whoami(fds[0], msg, sizeof msg, e) != 0)
		return cerr_set(e, EPROTO, "the first connection was not served: %s",
				msg[0] ? msg : e->msg);
	while (n < HOLD_MAX) {
		int fd = dial(c->path, e);
		if (fd < 0) {
			snprintf(refusal, sizeof refusal, "%s", e->msg);
			break;
		}
		r = whoami(fd, msg, sizeof msg, e);
		if (r != 0) {
			snprintf(refusal, sizeof refusal, "%s", r > 0 ? msg : e->msg);
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	printf("held %d; refused: %s\n", n, refusal);
	fflush(stdout);
	for (int t = 0; t < secs; t++) {
		sleep(1);
		for (int i = 0; i < n; i++)
			if (fds[i] >= 0 && whoami(fds[i], msg, sizeof msg, e) != 0) {
				close(fds[i]);
				fds[i] = -1;
				lost++;
			}
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	snprintf(c->detail, sizeof c->detail, "held %d for %d s, %d lost", n,
		 secs, lost);
	return lost ? cerr_set(e, EPROTO, "%s", c->detail) : 0;
}

/* PARTIAL_CONNS connections, each sending the header of a RUN that
 * claims a 131000-byte body and then only PARTIAL_SEND bytes of it;
 * prints "opened N; refused R: <first refusal>", then "ready", holds them
 * PARTIAL_HOLD seconds (corrald's memory is measured meanwhile) and
 * closes them.  Refusals are the ERRORs corrald sent on any of them. */
static int case_partial(struct ctx *c, struct cerr *e)
{
	const char *s;
	int conns = (s = getenv("PARTIAL_CONNS")) ? atoi(s) : 200;
	int send = (s = getenv("PARTIAL_SEND")) ? atoi(s) : 0;
	int hold = (s = getenv("PARTIAL_HOLD")) ? atoi(s) : 4;
	static int fds[HOLD_MAX];
	static uint8_t body[131000];
	uint8_t h[WIRE_HDR_LEN];
	char first[512] = "none";
	int n = 0, refused = 0;

	if (conns < 1 || conns > HOLD_MAX || send < 0 || send > (int)sizeof body)
		return cerr_set(e, EINVAL, "bad PARTIAL_* settings");
	put_le32(h, WIRE_MAGIC);
	put_le16(h + 4, WIRE_VERSION);
	put_le16(h + 6, C_RUN);
	put_le32(h + 8, sizeof body);
	memset(body, 'b', sizeof body);
	close(c->fd);
	c->fd = -1;
	for (; n < conns; n++) {
		fds[n] = dial(c->path, e);
		if (fds[n] < 0 || send_all(fds[n], h, sizeof h, e) < 0 ||
		    (send && send_all(fds[n], body, (size_t)send, e) < 0))
			break;
	}
	usleep(500000);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };
		struct wire_reader rd = { 0 };
		struct wire_msg m = { 0 };

		if (poll(&p, 1, 0) != 1)
			continue;
		if (wire_reader_read(fds[i], &rd, &proto_client_rep, &m, e) == WIRE_READY &&
		    m.type == C_ERROR && !refused++)
			snprintf(first, sizeof first, "%s", wire_str(&m, F_MESSAGE));
		wire_msg_free(&m);
		wire_reader_reset(&rd);
	}
	printf("opened %d; refused %d: %s\nready\n", n, refused, first);
	fflush(stdout);
	sleep((unsigned)hold);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	snprintf(c->detail, sizeof c->detail, "opened %d, refused %d", n, refused);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *, struct cerr *);
} cases[] = {
	{ "garbage", case_garbage },
	{ "bigbody", case_bigbody },
	{ "badtype", case_badtype },
	{ "longarg", case_longarg },
	{ "notreq", case_notreq },
	{ "input", case_input },
	{ "inseq", case_inseq },
	{ "twoinput", case_twoinput },
	{ "stall", case_stall },
	{ "idle", case_idle },
	{ "hold", case_hold },
	{ "partial", case_partial },
};

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct cerr e = { 0 };

	if (argc != 3) {
		fprintf(stderr, "usage: rawclient SOCKET CASE\n");
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (strcmp(argv[2], cases[i].name) != 0)
			continue;
		c.name = cases[i].name;
		c.path = argv[1];
		c.fd = dial(argv[1], &e);
		if (c.fd < 0 || cases[i].fn(&c, &e) < 0) {
			printf("FAIL %s: %s\n", c.name, e.msg);
			return 1;
		}
		close(c.fd);
		printf("ok %s: %s\n", c.name, c.detail);
		return 0;
	}
	fprintf(stderr, "rawclient: unknown case %s\n", argv[2]);
	return 2;
}
