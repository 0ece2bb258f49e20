/* Framing library: encoding, decoding, every bound, both transports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "wire.h"
#include "wire_io.h"

static const char JOB[] = "0123abcd-4567-89ef-0123-456789abcdef";

/* A link that exists only here: the real tables have no message that can
 * reach WIRE_MAX_FIELDS before a count limit. */
static const struct wire_field_spec t_fields[] = {
	{ 1, WT_U32, WF_REPEATED, "n", 0, UINT32_MAX, 100000 },
};
static const struct wire_msg_spec t_msgs[] = {
	{ 7, WD_REQ, "T", 0, 0, 0, t_fields, 1 },
};
static const struct wire_proto proto_test = { "test link", t_msgs, 1, WD_REQ };

/* --- helpers ---------------------------------------------------------- */

static void le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Hand-made bytes, for messages no correct sender produces. */
struct raw {
	uint8_t *b;
	size_t len;
};

static void raw_add(struct raw *r, const void *p, size_t n)
{
	r->b = realloc(r->b, r->len + n + 1);
	assert_non_null(r->b);
	if (n)
		memcpy(r->b + r->len, p, n);
	r->len += n;
}

static void raw_le(struct raw *r, uint64_t v, int n)
{
	uint8_t b[8];
	le_put(b, v, n);
	raw_add(r, b, (size_t)n);
}

static void raw_hdr(struct raw *r, uint32_t magic, uint16_t ver, uint16_t type)
{
	raw_le(r, magic, 4);
	raw_le(r, ver, 2);
	raw_le(r, type, 2);
	raw_le(r, 0, 4);	/* patched by raw_done */
}

static void raw_field(struct raw *r, uint16_t id, uint16_t type,
		      const void *v, uint32_t len)
{
	raw_le(r, id, 2);
	raw_le(r, type, 2);
	raw_le(r, len, 4);
	raw_add(r, v, len);
}

static void raw_done(struct raw *r)
{
	le_put(r->b + 8, r->len - WIRE_HDR_LEN, 4);
}

/* Frame o's fields without wire_out_finish's schema check, so the
 * decoder can be shown what a correct sender refuses to produce. */
static void frame_unchecked(struct wire_out *o)
{
	assert_false(o->failed);
	le_put(o->buf, WIRE_MAGIC, 4);
	le_put(o->buf + 4, WIRE_VERSION, 2);
	le_put(o->buf + 6, o->type, 2);
	le_put(o->buf + 8, o->len - WIRE_HDR_LEN, 4);
}

static void assert_err(const struct cerr *e, int num, const char *needle)
{
	if (e->num != num)
		fail_msg("errno %d (%s), want %d", e->num, e->msg, num);
	if (needle && !strstr(e->msg, needle))
		fail_msg("error \"%s\" does not name \"%s\"", e->msg, needle);
}

static void finish_ok(struct wire_out *o)
{
	struct cerr e = { 0 };
	if (wire_out_finish(o, &e) < 0)
		fail_msg("wire_out_finish: %s", e.msg);
}

static void decode_ok(const struct wire_proto *p, const uint8_t *b,
		      size_t len, struct wire_msg *m)
{
	struct cerr e = { 0 };
	if (wire_decode(p, b, len, m, &e) < 0)
		fail_msg("wire_decode: %s", e.msg);
}

static void reject(const struct wire_proto *p, const uint8_t *b, size_t len,
		   int num, const char *needle)
{
	struct wire_msg m;
	struct cerr e = { 0 };

	assert_int_equal(wire_decode(p, b, len, &m, &e), -1);
	assert_err(&e, num, needle);
	assert_null(m.arena);
	wire_msg_free(&m);
}

/* The sender refuses it, and so does a decoder given the same bytes. */
static void reject_both(struct wire_out *o, int num, const char *needle)
{
	struct cerr e = { 0 };

	assert_int_equal(wire_out_finish(o, &e), -1);
	assert_err(&e, num, needle);
	frame_unchecked(o);
	reject(o->proto, o->buf, o->len, num, needle);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static char *filled(size_t n, char c)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Every required field of the messages the bound tests use, except skip;
 * START also gets its two (never sent) fds so finish looks at fields. */
static void build_base(struct wire_out *o, const struct wire_proto *p,
		       uint16_t type, uint16_t skip)
{
	wire_out_init(o, p, type);
	if (p == &proto_helper_req && type == H_START) {
		if (skip != F_JOB_ID)
			wire_put_str(o, F_JOB_ID, JOB);
		if (skip != F_UID)
			wire_put_u32(o, F_UID, 1000);
		wire_put_fd(o, 100);
		wire_put_fd(o, 101);
	}
	if (p == &proto_helper_req && type == H_SIGNAL) {
		wire_put_str(o, F_JOB_ID, JOB);
		if (skip != F_SIGNAL)
			wire_put_u32(o, F_SIGNAL, 15);
		return;
	}
	if (p == &proto_client_rep && type == C_LOG_DATA) {
		if (skip != F_STREAM)
			wire_put_u32(o, F_STREAM, STREAM_STDOUT);
		wire_put_u64(o, F_TIME_MS, 1);
		if (skip != F_DATA)
			wire_put_bytes(o, F_DATA, "x", 1);
		return;
	}
	if (skip != F_ARGV)
		wire_put_str(o, F_ARGV, "/bin/true");
	if (skip != F_CWD)
		wire_put_str(o, F_CWD, "/");
}

/* --- round trips ------------------------------------------------------ */

static void put_limits(struct wire_out *o)
{
	struct io_limit io = { 8, 16, 1u << 20, 0, 100, UINT64_MAX };
	uint8_t b[IO_LIMIT_LEN];

	wire_put_str(o, F_ARGV, "/bin/sh");
	wire_put_str(o, F_ARGV, "");
	wire_put_str(o, F_ARGV, "-c \xc3\xa9 'x'");
	wire_put_str(o, F_ENV, "PATH=/usr/bin");
	wire_put_str(o, F_ENV, "A=");
	wire_put_str(o, F_CWD, "/home/u");
	wire_put_u64(o, F_MEMORY_MAX, 1ull << 33);
	wire_put_u64(o, F_MEMORY_SWAP_MAX, 0);
	wire_put_u64(o, F_CPU_QUOTA_USEC, 150000);
	wire_put_u64(o, F_PIDS_MAX, 4194304);
	wire_put_str(o, F_CPUSET_CPUS, "0-1,3");
	wire_put_str(o, F_CPUSET_MEMS, "0");
	io_limit_encode(&io, b);
	wire_put_bytes(o, F_IO_LIMIT, b, sizeof b);
	io.major = 259;
	io_limit_encode(&io, b);
	wire_put_bytes(o, F_IO_LIMIT, b, sizeof b);
	wire_put_u32(o, F_NS_OFF, NS_NET | NS_IPC);
	wire_put_str(o, F_ROOTFS, "/srv/root");
}

static void check_limits(const struct wire_msg *m)
{
	const struct wire_val *v;
	struct io_limit io;
	size_t n;
	const char **argv = wire_strv(m, F_ARGV, &n);

	assert_int_equal(n, 3);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "");
	assert_string_equal(argv[2], "-c \xc3\xa9 'x'");
	assert_null(argv[3]);
	free(argv);
	assert_int_equal(wire_count(m, F_ENV), 2);
	assert_string_equal((const char *)wire_nth(m, F_ENV, 1)->p, "A=");
	assert_null(wire_nth(m, F_ENV, 2));
	assert_string_equal(wire_str(m, F_CWD), "/home/u");
	assert_int_equal(wire_u64(m, F_MEMORY_MAX, 0), 1ull << 33);
	assert_true(wire_has(m, F_MEMORY_SWAP_MAX));
	assert_int_equal(wire_u64(m, F_MEMORY_SWAP_MAX, 7), 0);
	assert_int_equal(wire_u64(m, F_CPU_QUOTA_USEC, 0), 150000);
	assert_int_equal(wire_u64(m, F_PIDS_MAX, 0), 4194304);
	assert_string_equal(wire_str(m, F_CPUSET_CPUS), "0-1,3");
	assert_string_equal(wire_str(m, F_CPUSET_MEMS), "0");
	v = wire_nth(m, F_IO_LIMIT, 1);
	assert_non_null(v);
	assert_int_equal(v->len, IO_LIMIT_LEN);
	io_limit_decode(v->p, &io);
	assert_int_equal(io.major, 259);
	assert_int_equal(io.minor, 16);
	assert_int_equal(io.rbps, 1u << 20);
	assert_int_equal(io.wbps, 0);
	assert_int_equal(io.riops, 100);
	assert_int_equal(io.wiops, UINT64_MAX);
	assert_int_equal(wire_u32(m, F_NS_OFF, 0), NS_NET | NS_IPC);
	assert_string_equal(wire_str(m, F_ROOTFS), "/srv/root");
}

static void test_roundtrip_helper_start(void **state)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_helper_req, H_START);
	wire_put_str(&o, F_JOB_ID, JOB);
	wire_put_u32(&o, F_UID, 0xfffffffeu);
	put_limits(&o);
	wire_put_fd(&o, 100);
	wire_put_fd(&o, 101);
	finish_ok(&o);
	decode_ok(&proto_helper_req, o.buf, o.len, &m);
	assert_int_equal(m.type, H_START);
	assert_string_equal(m.spec->name, "START");
	assert_int_equal(m.nfds, 0);	/* fds travel beside, not inside */
	assert_string_equal(wire_str(&m, F_JOB_ID), JOB);
	assert_int_equal(wire_u32(&m, F_UID, 0), 0xfffffffeu);
	assert_false(wire_has(&m, F_SIGNAL));
	assert_int_equal(wire_u64(&m, F_SIGNAL, 42), 42);
	assert_null(wire_str(&m, F_SIGNAL));
	check_limits(&m);
	wire_msg_free(&m);
	wire_out_free(&o);
}

static void test_roundtrip_client_run(void **state)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_RUN);
	put_limits(&o);
	wire_put_str(&o, F_NAME, "nightly");
	wire_put_u64(&o, F_TIMEOUT_MS, 366ull * 24 * 3600 * 1000);
	finish_ok(&o);
	decode_ok(&proto_client_req, o.buf, o.len, &m);
	assert_int_equal(m.type, C_RUN);
	check_limits(&m);
	assert_string_equal(wire_str(&m, F_NAME), "nightly");
	assert_int_equal(wire_u64(&m, F_TIMEOUT_MS, 0), 366ull * 24 * 3600 * 1000);
	wire_msg_free(&m);
	wire_out_free(&o);
}

static void test_roundtrip_client_job_and_bytes(void **state)
{
	static const uint8_t bin[] = { 0, 1, 0xff, '\n', 0 };
	struct wire_out o;
	struct wire_msg m;
	size_t n = 0;
	const uint8_t *p;

	wire_out_init(&o, &proto_client_rep, C_LOG_DATA);
	wire_put_u32(&o, F_STREAM, STREAM_STDERR);
	wire_put_u64(&o, F_TIME_MS, WIRE_U63_MAX);
	wire_put_bytes(&o, F_DATA, bin, sizeof bin);
	finish_ok(&o);
	decode_ok(&proto_client_rep, o.buf, o.len, &m);
	assert_int_equal(wire_u32(&m, F_STREAM, 0), STREAM_STDERR);
	assert_int_equal(wire_u64(&m, F_TIME_MS, 0), WIRE_U63_MAX);
	p = wire_bytes(&m, F_DATA, &n);
	assert_int_equal(n, sizeof bin);
	assert_memory_equal(p, bin, sizeof bin);
	wire_msg_free(&m);
	wire_out_free(&o);

	wire_out_init(&o, &proto_client_rep, C_JOB);
	wire_put_str(&o, F_JOB_ID, JOB);
	wire_put_u32(&o, F_UID, 0xffffffffu);
	wire_put_str(&o, F_STATE, "exited");
	wire_put_str(&o, F_ARGV, "true");
	wire_put_str(&o, F_CWD, "/");
	wire_put_u64(&o, F_CREATED_MS, 1700000000000ull);
	wire_put_u32(&o, F_EXIT_CODE, 255);
	wire_put_u64(&o, F_MEMORY_PEAK, WIRE_U63_MAX);
	finish_ok(&o);
	decode_ok(&proto_client_rep, o.buf, o.len, &m);
	assert_int_equal(wire_u32(&m, F_UID, 0), 0xffffffffu);
	assert_string_equal(wire_str(&m, F_STATE), "exited");
	assert_int_equal(wire_u64(&m, F_CREATED_MS, 0), 1700000000000ull);
	assert_int_equal(wire_u32(&m, F_EXIT_CODE, 0), 255);
	assert_int_equal(wire_u64(&m, F_MEMORY_PEAK, 0), WIRE_U63_MAX);
	wire_msg_free(&m);
	wire_out_free(&o);
}

static void test_roundtrip_empty_body(void **state)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	finish_ok(&o);
	assert_int_equal(o.len, WIRE_HDR_LEN);
	decode_ok(&proto_client_req, o.buf, o.len, &m);
	assert_int_equal(m.type, C_WHOAMI);
	assert_int_equal(m.nvals, 0);
	wire_msg_free(&m);
	wire_out_free(&o);
}


/* --- bounds ----------------------------------------------------------- */

struct bound {
	const struct wire_proto *proto;
	uint16_t type, id;
	uint8_t ftype;
	uint64_t val;	/* int value, or length of a STR/BYTES */
	int want;	/* 0: accepted, else the errno */
	const char *name;
};

static const struct bound bounds[] = {
	{ &proto_helper_req, H_START, F_CWD, WT_STR, 1, 0, "cwd" },
	{ &proto_helper_req, H_START, F_CWD, WT_STR, 0, ERANGE, "cwd" },
	{ &proto_helper_req, H_START, F_CWD, WT_STR, PATH_LEN_MAX, 0, "cwd" },
	{ &proto_helper_req, H_START, F_CWD, WT_STR, PATH_LEN_MAX + 1, ERANGE, "cwd" },
	{ &proto_helper_req, H_START, F_JOB_ID, WT_STR, 36, 0, "job_id" },
	{ &proto_helper_req, H_START, F_JOB_ID, WT_STR, 35, ERANGE, "job_id" },
	{ &proto_helper_req, H_START, F_JOB_ID, WT_STR, 37, ERANGE, "job_id" },
	{ &proto_helper_req, H_START, F_ARGV, WT_STR, ARG_LEN_MAX, 0, "argv" },
	{ &proto_helper_req, H_START, F_ARGV, WT_STR, ARG_LEN_MAX + 1, ERANGE, "argv" },
	{ &proto_helper_req, H_START, F_ENV, WT_STR, 2, 0, "env" },
	{ &proto_helper_req, H_START, F_ENV, WT_STR, 1, ERANGE, "env" },
	{ &proto_helper_req, H_START, F_ENV, WT_STR, ENV_LEN_MAX, 0, "env" },
	{ &proto_helper_req, H_START, F_ENV, WT_STR, ENV_LEN_MAX + 1, ERANGE, "env" },
	{ &proto_helper_req, H_START, F_CPUSET_CPUS, WT_STR, CPUSET_LEN_MAX, 0, "cpuset_cpus" },
	{ &proto_helper_req, H_START, F_CPUSET_CPUS, WT_STR, CPUSET_LEN_MAX + 1, ERANGE, "cpuset_cpus" },
	{ &proto_helper_req, H_START, F_ROOTFS, WT_STR, PATH_LEN_MAX + 1, ERANGE, "rootfs" },
	{ &proto_helper_req, H_START, F_IO_LIMIT, WT_BYTES, IO_LIMIT_LEN, 0, "io_limit" },
	{ &proto_helper_req, H_START, F_IO_LIMIT, WT_BYTES, IO_LIMIT_LEN - 1, ERANGE, "io_limit" },
	{ &proto_helper_req, H_START, F_IO_LIMIT, WT_BYTES, IO_LIMIT_LEN + 1, ERANGE, "io_limit" },
	{ &proto_helper_req, H_START, F_UID, WT_U32, 0, 0, "uid" },
	{ &proto_helper_req, H_START, F_UID, WT_U32, 0xfffffffeu, 0, "uid" },
	{ &proto_helper_req, H_START, F_UID, WT_U32, 0xffffffffu, ERANGE, "uid" },
	{ &proto_helper_req, H_START, F_NS_OFF, WT_U32, NS_ALL, 0, "ns_off" },
	{ &proto_helper_req, H_START, F_NS_OFF, WT_U32, NS_ALL + 1, ERANGE, "ns_off" },
	{ &proto_helper_req, H_START, F_MEMORY_MAX, WT_U64, 4095, ERANGE, "memory_max" },
	{ &proto_helper_req, H_START, F_MEMORY_MAX, WT_U64, 4096, 0, "memory_max" },
	{ &proto_helper_req, H_START, F_MEMORY_MAX, WT_U64, WIRE_U63_MAX, 0, "memory_max" },
	/* one ceiling for every stored number: SQLite's signed 64 bits */
	{ &proto_helper_req, H_START, F_MEMORY_MAX, WT_U64, WIRE_U63_MAX + 1, ERANGE, "memory_max" },
	{ &proto_client_rep, C_JOB, F_MEMORY_PEAK, WT_U64, WIRE_U63_MAX + 1, ERANGE, "memory_peak" },
	{ &proto_helper_req, H_START, F_CPU_QUOTA_USEC, WT_U64, 999, ERANGE, "cpu_quota_usec" },
	{ &proto_helper_req, H_START, F_CPU_QUOTA_USEC, WT_U64, 1000, 0, "cpu_quota_usec" },
	{ &proto_helper_req, H_START, F_CPU_QUOTA_USEC, WT_U64, 1024ull * CPU_PERIOD_USEC, 0, "cpu_quota_usec" },
	{ &proto_helper_req, H_START, F_CPU_QUOTA_USEC, WT_U64, 1024ull * CPU_PERIOD_USEC + 1, ERANGE, "cpu_quota_usec" },
	{ &proto_helper_req, H_START, F_PIDS_MAX, WT_U64, 0, ERANGE, "pids_max" },
	{ &proto_helper_req, H_START, F_PIDS_MAX, WT_U64, 4194304, 0, "pids_max" },
	{ &proto_helper_req, H_START, F_PIDS_MAX, WT_U64, 4194305, ERANGE, "pids_max" },
	{ &proto_helper_req, H_SIGNAL, F_SIGNAL, WT_U32, 0, ERANGE, "signal" },
	{ &proto_helper_req, H_SIGNAL, F_SIGNAL, WT_U32, 1, 0, "signal" },
	{ &proto_helper_req, H_SIGNAL, F_SIGNAL, WT_U32, 64, 0, "signal" },
	{ &proto_helper_req, H_SIGNAL, F_SIGNAL, WT_U32, 65, ERANGE, "signal" },
	{ &proto_client_req, C_RUN, F_CWD, WT_STR, PATH_LEN_MAX + 1, ERANGE, "cwd" },
	{ &proto_client_req, C_RUN, F_NAME, WT_STR, NAME_LEN_MAX, 0, "name" },
	{ &proto_client_req, C_RUN, F_NAME, WT_STR, NAME_LEN_MAX + 1, ERANGE, "name" },
	{ &proto_client_req, C_RUN, F_TIMEOUT_MS, WT_U64, 0, ERANGE, "timeout_ms" },
	{ &proto_client_req, C_RUN, F_TIMEOUT_MS, WT_U64, 366ull * 86400000, 0, "timeout_ms" },
	{ &proto_client_req, C_RUN, F_TIMEOUT_MS, WT_U64, 366ull * 86400000 + 1, ERANGE, "timeout_ms" },
	{ &proto_client_rep, C_LOG_DATA, F_DATA, WT_BYTES, 0, 0, "data" },
	{ &proto_client_rep, C_LOG_DATA, F_DATA, WT_BYTES, LOG_CHUNK_MAX, 0, "data" },
	{ &proto_client_rep, C_LOG_DATA, F_DATA, WT_BYTES, LOG_CHUNK_MAX + 1, ERANGE, "data" },
	{ &proto_client_rep, C_LOG_DATA, F_STREAM, WT_U32, 0, ERANGE, "stream" },
	{ &proto_client_rep, C_LOG_DATA, F_STREAM, WT_U32, STREAM_META, 0, "stream" },
	{ &proto_client_rep, C_LOG_DATA, F_STREAM, WT_U32, STREAM_META + 1, ERANGE, "stream" },
};

static void put_bound(struct wire_out *o, const struct bound *b)
{
	char *s;

	switch (b->ftype) {
	case WT_U32:
		wire_put_u32(o, b->id, (uint32_t)b->val);
		break;
	case WT_U64:
		wire_put_u64(o, b->id, b->val);
		break;
	case WT_STR:
	case WT_BYTES:
		s = filled(b->val, 'a');
		if (b->ftype == WT_STR)
			wire_put_str(o, b->id, s);
		else
			wire_put_bytes(o, b->id, s, b->val);
		free(s);
		break;
	}
}

static void check_bound_value(const struct wire_msg *m, const struct bound *b)
{
	const struct wire_val *v = wire_nth(m, b->id, 0);

	assert_non_null(v);
	if (b->ftype == WT_U32 || b->ftype == WT_U64)
		assert_true(v->u == b->val);
	else
		assert_int_equal(v->len, b->val);
	if (b->ftype == WT_STR)
		assert_int_equal(strlen((const char *)v->p), b->val);
}

static void test_field_bounds(void **state)
{
	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		const struct bound *b = &bounds[i];
		struct wire_out o;
		struct wire_msg m;

		build_base(&o, b->proto, b->type, b->id);
		put_bound(&o, b);
		if (b->want) {
			reject_both(&o, b->want, b->name);
		} else {
			finish_ok(&o);
			decode_ok(b->proto, o.buf, o.len, &m);
			check_bound_value(&m, b);
			wire_msg_free(&m);
		}
		wire_out_free(&o);
	}
}

static void count_case(const struct wire_proto *p, uint16_t type, uint16_t id,
		       size_t n, int want, const char *name)
{
	uint8_t io[IO_LIMIT_LEN] = { 0 };
	struct wire_out o;
	struct wire_msg m;

	build_base(&o, p, type, id);
	for (size_t i = 0; i < n; i++) {
		if (id == F_IO_LIMIT)
			wire_put_bytes(&o, id, io, sizeof io);
		else
			wire_put_str(&o, id, id == F_ENV ? "K=v" : "arg");
	}
	if (want) {
		reject_both(&o, want, name);
	} else {
		finish_ok(&o);
		decode_ok(p, o.buf, o.len, &m);
		assert_int_equal(wire_count(&m, id), n);
		assert_non_null(wire_nth(&m, id, n - 1));
		assert_null(wire_nth(&m, id, n));
		wire_msg_free(&m);
	}
	wire_out_free(&o);
}

static void test_repeat_bounds(void **state)
{
	const struct wire_proto *ps[] = { &proto_helper_req, &proto_client_req };
	const uint16_t ts[] = { H_START, C_RUN };

	for (int i = 0; i < 2; i++) {
		count_case(ps[i], ts[i], F_ARGV, ARGV_MAX, 0, "argv");
		count_case(ps[i], ts[i], F_ARGV, ARGV_MAX + 1, E2BIG, "argv");
		count_case(ps[i], ts[i], F_ENV, ENV_MAX, 0, "env");
		count_case(ps[i], ts[i], F_ENV, ENV_MAX + 1, E2BIG, "env");
		count_case(ps[i], ts[i], F_IO_LIMIT, IO_LIMIT_MAX, 0, "io_limit");
		count_case(ps[i], ts[i], F_IO_LIMIT, IO_LIMIT_MAX + 1, E2BIG, "io_limit");
	}
}

/* Put argv entries until the body is exactly target bytes. */
static void fill_body(struct wire_out *o, size_t target)
{
	char *big = filled(ARG_LEN_MAX, 'b');

	while (o->len - WIRE_HDR_LEN < target) {
		size_t left = target - (o->len - WIRE_HDR_LEN), n;

		assert_true(left >= WIRE_FIELD_HDR_LEN);
		n = left - WIRE_FIELD_HDR_LEN;
		/* a full entry, unless it would leave a gap too small for
		 * the next field header */
		if (n > ARG_LEN_MAX)
			n = n - ARG_LEN_MAX >= WIRE_FIELD_HDR_LEN ? ARG_LEN_MAX
								  : ARG_LEN_MAX / 2;
		big[n] = '\0';
		wire_put_str(o, F_ARGV, big);
		big[n] = 'b';
	}
	free(big);
}

static void test_body_bound(void **state)
{
	struct wire_out o;
	struct wire_msg m;
	struct cerr e = { 0 };
	struct raw r = { 0 };
	uint8_t *zero = calloc(1, WIRE_MAX_BODY + 1);

	wire_out_init(&o, &proto_client_req, C_RUN);
	wire_put_str(&o, F_CWD, "/");
	fill_body(&o, WIRE_MAX_BODY);
	finish_ok(&o);
	assert_int_equal(o.len, WIRE_HDR_LEN + WIRE_MAX_BODY);
	decode_ok(&proto_client_req, o.buf, o.len, &m);
	assert_string_equal(wire_str(&m, F_CWD), "/");
	wire_msg_free(&m);

	/* One byte more: the sender refuses to grow it... */
	wire_put_str(&o, F_ENV, "");
	assert_int_equal(wire_out_finish(&o, &e), -1);
	assert_err(&e, EMSGSIZE, "131072");
	wire_out_free(&o);

	/* ...and a header announcing it is refused before the body. */
	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, C_RUN);
	raw_add(&r, zero, WIRE_MAX_BODY + 1);
	raw_done(&r);
	reject(&proto_client_req, r.b, r.len, EMSGSIZE, "RUN body of 131073 bytes");
	free(r.b);
	free(zero);
}

static void test_per_type_body_caps(void **state)
{
	const struct wire_proto *ps[] = { &proto_helper_req, &proto_helper_ev,
					  &proto_client_req, &proto_client_rep };

	for (int i = 0; i < 4; i++) {
		for (size_t k = 0; k < ps[i]->nmsgs; k++) {
			const struct wire_msg_spec *s = &ps[i]->msgs[k];
			if (s->dir != ps[i]->dir)
				continue;
			uint32_t cap = s->max_body ? s->max_body : WIRE_MAX_BODY;
			uint8_t h[WIRE_HDR_LEN];
			struct cerr e = { 0 };
			uint32_t blen = 0;
			uint16_t t = 0;

			assert_true(cap <= WIRE_MAX_BODY);
			le_put(h, WIRE_MAGIC, 4);
			le_put(h + 4, WIRE_VERSION, 2);
			le_put(h + 6, s->type, 2);
			le_put(h + 8, cap, 4);
			assert_int_equal(wire_check_header(ps[i], h, &t, &blen, &e), 0);
			assert_int_equal(t, s->type);
			assert_int_equal(blen, cap);
			le_put(h + 8, cap + 1ull, 4);
			assert_int_equal(wire_check_header(ps[i], h, &t, &blen, &e), -1);
			assert_err(&e, EMSGSIZE, s->name);
		}
	}
}

static void test_max_fields(void **state)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_test, 7);
	for (uint32_t i = 0; i < WIRE_MAX_FIELDS; i++)
		wire_put_u32(&o, 1, i);
	finish_ok(&o);
	decode_ok(&proto_test, o.buf, o.len, &m);
	assert_int_equal(m.nvals, WIRE_MAX_FIELDS);
	assert_int_equal(wire_nth(&m, 1, WIRE_MAX_FIELDS - 1)->u, WIRE_MAX_FIELDS - 1);
	wire_msg_free(&m);
	wire_put_u32(&o, 1, 0);
	reject_both(&o, E2BIG, "more than 4096 fields");
	wire_out_free(&o);
}

/* --- malformed messages ----------------------------------------------- */

static void make_start(struct wire_out *o, int fd1, int fd2)
{
	wire_out_init(o, &proto_helper_req, H_START);
	wire_put_str(o, F_JOB_ID, JOB);
	wire_put_u32(o, F_UID, 1000);
	wire_put_str(o, F_ARGV, "/bin/echo");
	wire_put_str(o, F_ARGV, "hi");
	wire_put_str(o, F_ENV, "A=b");
	wire_put_str(o, F_CWD, "/tmp");
	wire_put_u64(o, F_MEMORY_MAX, 1 << 20);
	wire_put_fd(o, fd1);
	wire_put_fd(o, fd2);
	finish_ok(o);
}

static void test_truncated(void **state)
{
	struct wire_out o;
	uint8_t *b;

	make_start(&o, 100, 101);
	for (size_t n = 0; n < o.len; n++) {
		/* a copy of exactly n bytes, so ASan sees any over-read */
		b = malloc(n ? n : 1);
		memcpy(b, o.buf, n);
		reject(&proto_helper_req, b, n, EBADMSG,
		       n < WIRE_HDR_LEN ? "shorter than the header" : "header says");
		free(b);
	}
	b = malloc(o.len + 1);
	memcpy(b, o.buf, o.len);
	b[o.len] = 0;
	reject(&proto_helper_req, b, o.len + 1, EBADMSG, "header says");
	free(b);
	wire_out_free(&o);
}

static void test_bad_header(void **state)
{
	struct wire_out o;
	struct wire_msg m;
	uint8_t *b;

	make_start(&o, 100, 101);
	b = o.buf;
	le_put(b + 8, o.len - WIRE_HDR_LEN + 10, 4);	/* beyond the data */
	reject(&proto_helper_req, b, o.len, EBADMSG, "header says");
	le_put(b + 8, 0xffffffffu, 4);			/* beyond any cap */
	reject(&proto_helper_req, b, o.len, EMSGSIZE, "exceeds limit");
	le_put(b + 8, o.len - WIRE_HDR_LEN, 4);
	b[0] ^= 0x20;
	reject(&proto_helper_req, b, o.len, EPROTO, "magic");
	b[0] ^= 0x20;
	le_put(b + 4, WIRE_VERSION + 1, 2);
	reject(&proto_helper_req, b, o.len, EPROTO, "version 2");
	le_put(b + 4, WIRE_VERSION, 2);
	le_put(b + 6, 999, 2);
	reject(&proto_helper_req, b, o.len, EBADMSG, "unknown message type 999");
	le_put(b + 6, C_STARTED, 2);	/* a client type, not a helper one */
	reject(&proto_helper_req, b, o.len, EBADMSG, "unknown message type 32");
	le_put(b + 6, H_START, 2);
	/* A request read by the side that sends requests: refused before
	 * any field is looked at. */
	reject(&proto_helper_ev, b, o.len, EBADMSG, "START travels the other way");
	/* The same bytes as a client RUN: job_id is no field of RUN. */
	reject(&proto_client_req, b, o.len, EBADMSG, "RUN: unknown field");
	reject(&proto_client_rep, b, o.len, EBADMSG, "RUN travels the other way");
	decode_ok(&proto_helper_req, b, o.len, &m);	/* all restored */
	wire_msg_free(&m);
	wire_out_free(&o);
}

static void raw_reject(struct raw *r, const struct wire_proto *p, int num,
		       const char *needle)
{
	raw_done(r);
	reject(p, r->b, r->len, num, needle);
	free(r->b);
	memset(r, 0, sizeof *r);
}

static void test_bad_fields(void **state)
{
	struct raw r = { 0 };
	uint8_t sig4[4] = { 15, 0, 0, 0 }, sig8[8] = { 15 };
	char want[64];

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_KILL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_field(&r, 999, WT_U32, sig4, 4);
	raw_reject(&r, &proto_helper_req, EBADMSG, "unknown field 999");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_KILL);	/* a field of SIGNAL */
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_field(&r, F_SIGNAL, WT_U32, sig4, 4);
	snprintf(want, sizeof want, "KILL: unknown field %d", F_SIGNAL);
	raw_reject(&r, &proto_helper_req, EBADMSG, want);

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_SIGNAL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_field(&r, F_SIGNAL, WT_U64, sig8, 8);
	raw_reject(&r, &proto_helper_req, EBADMSG, "signal has type 2");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_SIGNAL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_field(&r, F_SIGNAL, WT_U32, sig8, 8);
	raw_reject(&r, &proto_helper_req, EBADMSG, "signal has length 8");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_KILL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_reject(&r, &proto_helper_req, EBADMSG, "job_id appears more than once");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_SIGNAL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_reject(&r, &proto_helper_req, EBADMSG, "required field signal is missing");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_KILL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	raw_add(&r, sig4, 4);
	raw_reject(&r, &proto_helper_req, EBADMSG, "truncated field header");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, H_KILL);
	raw_field(&r, F_JOB_ID, WT_STR, JOB, 36);
	r.len -= 1;	/* value one byte short of its length */
	raw_reject(&r, &proto_helper_req, EBADMSG, "runs past the body");
}

static void test_nul_in_str(void **state)
{
	struct raw r = { 0 };
	struct wire_msg m;
	size_t n = 0;

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, C_RUN);
	raw_field(&r, F_ARGV, WT_STR, "ls", 2);
	raw_field(&r, F_CWD, WT_STR, "/t\0p", 4);
	raw_reject(&r, &proto_client_req, EBADMSG, "cwd[0] contains a NUL");

	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, C_RUN);
	raw_field(&r, F_ARGV, WT_STR, "ls", 2);
	raw_field(&r, F_ARGV, WT_STR, "-l", 2);
	raw_field(&r, F_ARGV, WT_STR, "x\0", 2);
	raw_field(&r, F_CWD, WT_STR, "/", 1);
	raw_reject(&r, &proto_client_req, EBADMSG, "argv[2] contains a NUL");

	/* BYTES may hold NULs. */
	raw_hdr(&r, WIRE_MAGIC, WIRE_VERSION, C_LOG_DATA);
	raw_field(&r, F_STREAM, WT_U32, (const uint8_t[4]){ 1 }, 4);
	raw_field(&r, F_TIME_MS, WT_U64, (const uint8_t[8]){ 0 }, 8);
	raw_field(&r, F_DATA, WT_BYTES, "\0\0", 2);
	raw_done(&r);
	decode_ok(&proto_client_rep, r.b, r.len, &m);
	assert_memory_equal(wire_bytes(&m, F_DATA, &n), "\0\0", 2);
	assert_int_equal(n, 2);
	wire_msg_free(&m);
	free(r.b);
}

static void test_sender_checks(void **state)
{
	struct wire_out o;
	struct cerr e = { 0 };
	uint8_t *big;

	wire_out_init(&o, &proto_helper_req, 999);
	assert_int_equal(wire_out_finish(&o, &e), -1);
	assert_err(&e, EINVAL, "no message type 999");
	wire_out_free(&o);

	wire_out_init(&o, &proto_helper_req, H_START);
	wire_put_str(&o, F_JOB_ID, JOB);
	wire_put_u32(&o, F_UID, 0);
	wire_put_str(&o, F_ARGV, "x");
	wire_put_str(&o, F_CWD, "/");
	for (int i = 0; i < 4; i++)
		wire_put_fd(&o, 0);	/* stdout, stderr, stdin: 3 at most */
	assert_int_equal(wire_out_finish(&o, &e), -1);
	assert_err(&e, EINVAL, "START carries 4 fds");
	wire_out_free(&o);

	build_base(&o, &proto_helper_req, H_START, 0);
	for (int i = 0; i < 3; i++)
		wire_put_fd(&o, 3);	/* 5 in all */
	wire_put_u32(&o, F_NS_OFF, 1);	/* ignored once failed */
	assert_int_equal(wire_out_finish(&o, &e), -1);
	assert_err(&e, E2BIG, "more than 4 fds");
	wire_out_free(&o);

	big = calloc(1, WIRE_MAX_BODY + 1);
	wire_out_init(&o, &proto_client_rep, C_LOG_DATA);
	wire_put_bytes(&o, F_DATA, big, WIRE_MAX_BODY + 1);
	assert_int_equal(wire_out_finish(&o, &e), -1);
	assert_err(&e, EMSGSIZE, "too large");
	wire_out_free(&o);
	free(big);
}

/* --- SOCK_SEQPACKET with fds ----------------------------------------- */

struct pair {
	int s[2];
	int pipe1[2], pipe2[2];
};

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof *p);

	if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->s) < 0 ||
	    pipe2(p->pipe1, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(p->pipe2, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	*state = p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;
	int *fds[] = { p->s, p->pipe1, p->pipe2 };

	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++)
			if (fds[i][k] >= 0)
				close(fds[i][k]);
	free(p);
	return 0;
}

/* Close our own copy of a pipe's write end; if every passed copy was
 * closed too, the read end now sees EOF instead of EAGAIN. */
static void assert_all_closed(int *pipefd)
{
	char c;

	close(pipefd[1]);
	pipefd[1] = -1;
	assert_int_equal(read(pipefd[0], &c, 1), 0);
}

static void send_kill(int sock)
{
	struct wire_out o;
	struct cerr e = { 0 };

	wire_out_init(&o, &proto_helper_req, H_KILL);
	wire_put_str(&o, F_JOB_ID, JOB);
	finish_ok(&o);
	if (wire_send_packet(sock, &o, &e) < 0)
		fail_msg("send: %s", e.msg);
	wire_out_free(&o);
}

static void recv_expect(int sock, int want, int num, const char *needle)
{
	struct wire_msg m;
	struct cerr e = { 0 };
	int rc = wire_recv_packet(sock, &proto_helper_req, &m, &e);

	if (rc != want)
		fail_msg("wire_recv_packet: %d (%s), want %d", rc, e.msg, want);
	if (want == WIRE_BAD || want == WIRE_AGAIN)
		assert_err(&e, num, needle);
	if (want == WIRE_READY)
		assert_string_equal(wire_str(&m, F_JOB_ID), JOB);
	wire_msg_free(&m);
}

static void test_packet_start_fds(void **state)
{
	struct pair *p = *state;
	struct wire_out o;
	struct wire_msg m;
	struct cerr e = { 0 };
	char buf[8];
	int fd;

	make_start(&o, p->pipe1[1], p->pipe2[1]);
	assert_int_equal(wire_send_packet(p->s[0], &o, &e), 0);
	wire_out_free(&o);
	assert_int_equal(wire_recv_packet(p->s[1], &proto_helper_req, &m, &e), WIRE_READY);
	assert_int_equal(m.nfds, 2);
	for (uint32_t i = 0; i < 2; i++) {
		assert_true(m.fds[i] >= 0);
		assert_true(fcntl(m.fds[i], F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(write(m.fds[1], "err", 3), 3);
	assert_int_equal(read(p->pipe2[0], buf, sizeof buf), 3);
	assert_memory_equal(buf, "err", 3);
	fd = wire_take_fd(&m, 0);
	assert_true(fd >= 0);
	assert_int_equal(wire_take_fd(&m, 0), -1);
	assert_int_equal(wire_take_fd(&m, 2), -1);
	assert_int_equal(write(fd, "out", 3), 3);
	assert_int_equal(read(p->pipe1[0], buf, sizeof buf), 3);
	wire_msg_free(&m);	/* closes fd 1, not the taken one */
	assert_int_equal(fcntl(fd, F_GETFD) >= 0, 1);
	close(fd);
	assert_all_closed(p->pipe1);
	assert_all_closed(p->pipe2);
}

static void test_packet_unwanted_fd(void **state)
{
	struct pair *p = *state;
	struct wire_out o;
	struct cerr e = { 0 };
	int before = count_fds();

	wire_out_init(&o, &proto_helper_req, H_KILL);
	wire_put_str(&o, F_JOB_ID, JOB);
	finish_ok(&o);
	wire_put_fd(&o, p->pipe1[1]);	/* after the check: a lying sender */
	assert_int_equal(wire_send_packet(p->s[0], &o, &e), 0);
	wire_out_free(&o);
	recv_expect(p->s[1], WIRE_BAD, EBADMSG, "KILL carries 1 fds, allowed 0");
	assert_int_equal(count_fds(), before);
	assert_all_closed(p->pipe1);
	send_kill(p->s[0]);
	recv_expect(p->s[1], WIRE_READY, 0, NULL);
}

static void test_packet_four_fds(void **state)
{
	struct pair *p = *state;
	struct wire_out o;
	struct cerr e = { 0 };
	int before = count_fds();

	make_start(&o, p->pipe1[1], p->pipe1[1]);
	wire_put_fd(&o, p->pipe2[0]);	/* stdin (-i): still allowed */
	wire_put_fd(&o, p->pipe2[1]);	/* after the check: a lying sender */
	assert_int_equal(wire_send_packet(p->s[0], &o, &e), 0);
	wire_out_free(&o);
	recv_expect(p->s[1], WIRE_BAD, EBADMSG, "START carries 4 fds, allowed 0 to 3");
	assert_int_equal(count_fds(), before);
	assert_all_closed(p->pipe1);
	assert_all_closed(p->pipe2);
}

/* sendmsg by hand: any bytes, with fd repeated n times in SCM_RIGHTS. */
static void send_with_fds(int sock, const void *data, size_t len, int fd, int n)
{
	enum { MAXN = 250 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * MAXN)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n) };
	struct cmsghdr *c;

	assert_true(n > 0 && n <= MAXN);
	memset(&ctl, 0, sizeof ctl);
	c = CMSG_FIRSTHDR(&mh);
	assert_non_null(c);
	if (!c)
		return;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	for (int i = 0; i < n; i++)
		memcpy(CMSG_DATA(c) + (size_t)i * sizeof(int), &fd, sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static void test_packet_fd_flood(void **state)
{
	struct pair *p = *state;
	struct wire_out o;
	int before = count_fds();

	wire_out_init(&o, &proto_helper_req, H_KILL);
	wire_put_str(&o, F_JOB_ID, JOB);
	finish_ok(&o);
	send_with_fds(p->s[0], o.buf, o.len, p->pipe1[1], 200);
	wire_out_free(&o);
	recv_expect(p->s[1], WIRE_BAD, EBADMSG, "too many fds");
	assert_int_equal(count_fds(), before);
	assert_all_closed(p->pipe1);
	send_kill(p->s[0]);
	recv_expect(p->s[1], WIRE_READY, 0, NULL);
}

/* Every bad datagram is reported, its fds closed, and the socket still
 * delivers the next good message. */
static void test_packet_garbage_then_valid(void **state)
{
	struct pair *p = *state;
	size_t hlen = WIRE_HDR_LEN + WIRE_MAX_BODY + 1;
	int sz = 1 << 20, on = 1, before = count_fds();
	uint8_t *huge;

	send_with_fds(p->s[0], "not a message at all", 20, p->pipe1[1], 1);
	send_kill(p->s[0]);
	recv_expect(p->s[1], WIRE_BAD, EPROTO, "bad magic");
	recv_expect(p->s[1], WIRE_READY, 0, NULL);

	assert_int_equal(send(p->s[0], "CRL", 3, 0), 3);
	recv_expect(p->s[1], WIRE_BAD, EBADMSG, "shorter than the header");

	/* A datagram bigger than any message is consumed, not half-read. */
	assert_int_equal(setsockopt(p->s[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
	huge = calloc(1, hlen);
	send_with_fds(p->s[0], huge, hlen, p->pipe1[1], 1);
	free(huge);
	send_kill(p->s[0]);
	recv_expect(p->s[1], WIRE_BAD, EMSGSIZE, "exceeds");
	recv_expect(p->s[1], WIRE_READY, 0, NULL);

	/* Control data other than SCM_RIGHTS is refused too. */
	assert_int_equal(setsockopt(p->s[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
	send_with_fds(p->s[0], "x", 1, p->pipe1[1], 1);
	recv_expect(p->s[1], WIRE_BAD, EBADMSG, "unexpected control message");

	assert_int_equal(count_fds(), before);
	assert_all_closed(p->pipe1);
}

static void test_packet_eof_again(void **state)
{
	struct pair *p = *state;

	assert_int_equal(fcntl(p->s[1], F_SETFL, O_NONBLOCK), 0);
	recv_expect(p->s[1], WIRE_AGAIN, EAGAIN, NULL);
	send_kill(p->s[0]);
	recv_expect(p->s[1], WIRE_READY, 0, NULL);
	recv_expect(p->s[1], WIRE_AGAIN, EAGAIN, NULL);
	close(p->s[0]);
	p->s[0] = -1;
	recv_expect(p->s[1], WIRE_EOF, 0, NULL);
}

/* --- stream reassembly ------------------------------------------------ */

/* What a client reads: replies only. */
static const uint16_t stream_types[] = { C_STARTED, C_DONE, C_LOG_DATA, C_OK, C_DONE };

/* Several client messages back to back; returns the bytes and the end
 * offset of each message. */
static uint8_t *make_stream(size_t *len, size_t ends[5])
{
	uint8_t *all = NULL;
	size_t n = 0;

	for (int i = 0; i < 5; i++) {
		struct wire_out o;
		wire_out_init(&o, &proto_client_rep, stream_types[i]);
		if (stream_types[i] == C_STARTED) {
			wire_put_str(&o, F_JOB_ID, JOB);
		} else if (stream_types[i] == C_LOG_DATA) {
			wire_put_u32(&o, F_STREAM, STREAM_STDOUT);
			wire_put_u64(&o, F_TIME_MS, 5);
			wire_put_bytes(&o, F_DATA, "hello\n", 6);
		} else if (stream_types[i] == C_OK) {
			wire_put_str(&o, F_MESSAGE, "abcd");
		}
		finish_ok(&o);
		all = realloc(all, n + o.len);
		assert_non_null(all);
		memcpy(all + n, o.buf, o.len);
		n += o.len;
		ends[i] = n;
		wire_out_free(&o);
	}
	*len = n;
	return all;
}

static void check_stream_msg(struct wire_msg *m, int i)
{
	assert_int_equal(m->type, stream_types[i]);
	if (stream_types[i] == C_STARTED)
		assert_string_equal(wire_str(m, F_JOB_ID), JOB);
	if (stream_types[i] == C_LOG_DATA) {
		size_t n = 0;
		assert_memory_equal(wire_bytes(m, F_DATA, &n), "hello\n", 6);
		assert_int_equal(n, 6);
	}
	if (stream_types[i] == C_STATUS)
		assert_string_equal(wire_str(m, F_JOB_REF), "abcd");
	wire_msg_free(m);
}

static void test_stream_feed_bytewise(void **state)
{
	struct wire_reader r = { 0 };
	size_t len, ends[5], used;
	uint8_t *all = make_stream(&len, ends);
	int got = 0;

	for (size_t i = 0; i < len; i++) {
		struct wire_msg m;
		struct cerr e = { 0 };
		int rc = wire_reader_feed(&r, &proto_client_rep, all + i, 1, &used, &m, &e);
		assert_int_equal(used, 1);
		if (rc == WIRE_READY) {
			assert_true(got < 5);
			assert_int_equal(i + 1, ends[got]);
			check_stream_msg(&m, got++);
		} else if (rc != WIRE_AGAIN) {
			fail_msg("feed at %zu: %s", i, e.msg);
		}
	}
	assert_int_equal(got, 5);
	/* All at once: each call stops at a message boundary. */
	for (size_t off = 0, k = 0; off < len; k++) {
		struct wire_msg m;
		struct cerr e = { 0 };
		assert_int_equal(wire_reader_feed(&r, &proto_client_rep, all + off,
						  len - off, &used, &m, &e),
				 WIRE_READY);
		off += used;
		assert_int_equal(off, ends[k]);
		check_stream_msg(&m, (int)k);
	}
	wire_reader_reset(&r);
	free(all);
}

static void test_stream_socket_bytewise(void **state)
{
	struct wire_reader r = { 0 };
	size_t len, ends[5];
	uint8_t *all = make_stream(&len, ends);
	int s[2], got = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
	for (size_t i = 0; i < len; i++) {
		struct wire_msg m;
		struct cerr e = { 0 };
		int rc;
		assert_int_equal(write(s[0], all + i, 1), 1);
		rc = wire_reader_read(s[1], &r, &proto_client_rep, &m, &e);
		if (rc == WIRE_READY) {
			assert_int_equal(i + 1, ends[got]);
			check_stream_msg(&m, got++);
		} else if (rc != WIRE_AGAIN) {
			fail_msg("read at %zu: %d %s", i, rc, e.msg);
		}
	}
	assert_int_equal(got, 5);
	close(s[0]);
	assert_int_equal(wire_reader_read(s[1], &r, &proto_client_rep,
					  &(struct wire_msg){ 0 }, &(struct cerr){ 0 }),
			 WIRE_EOF);
	close(s[1]);
	free(all);
}

static void test_stream_eof_mid_message(void **state)
{
	size_t len, ends[5];
	uint8_t *all = make_stream(&len, ends);
	size_t cuts[] = { 1, WIRE_HDR_LEN - 1, WIRE_HDR_LEN, ends[0] - 1 };

	for (size_t i = 0; i < 4; i++) {
		struct wire_reader r = { 0 };
		struct wire_msg m;
		struct cerr e = { 0 };
		int s[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
		assert_int_equal(write(s[0], all, cuts[i]), (ssize_t)cuts[i]);
		close(s[0]);
		assert_int_equal(wire_reader_read(s[1], &r, &proto_client_rep, &m, &e), WIRE_ERR);
		assert_err(&e, EPIPE, "inside a message");
		close(s[1]);
	}
	free(all);
}

static void test_stream_oversized_header(void **state)
{
	struct wire_reader r = { 0 };
	struct wire_msg m;
	struct cerr e = { 0 };
	uint8_t h[WIRE_HDR_LEN + 100] = { 0 };
	size_t used;
	int s[2], left = 0;

	le_put(h, WIRE_MAGIC, 4);
	le_put(h + 4, WIRE_VERSION, 2);
	le_put(h + 6, C_RUN, 2);
	le_put(h + 8, WIRE_MAX_BODY + 1, 4);
	assert_int_equal(wire_reader_feed(&r, &proto_client_req, h, sizeof h, &used, &m, &e),
			 WIRE_ERR);
	assert_err(&e, EMSGSIZE, "exceeds limit");
	assert_int_equal(used, WIRE_HDR_LEN);	/* stopped at the header */

	/* Per-type cap: STATUS bodies are at most 256 bytes. */
	le_put(h + 6, C_STATUS, 2);
	le_put(h + 8, 257, 4);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
	assert_int_equal(write(s[0], h, sizeof h), (ssize_t)sizeof h);
	assert_int_equal(wire_reader_read(s[1], &r, &proto_client_req, &m, &e), WIRE_ERR);
	assert_err(&e, EMSGSIZE, "STATUS body of 257 bytes exceeds limit 256");
	assert_int_equal(ioctl(s[1], FIONREAD, &left), 0);
	assert_int_equal(left, 100);	/* not one body byte was read */
	close(s[0]);
	close(s[1]);
}

/* A header that claims a large body costs nothing until body bytes come,
 * and then about what came (the buffer doubles from 4 KiB). */
static void test_stream_grows_with_data(void **state)
{
	struct wire_reader r = { 0 };
	struct wire_msg m;
	struct cerr e = { 0 };
	uint8_t h[WIRE_HDR_LEN], chunk[5000] = { 0 };
	size_t used;

	le_put(h, WIRE_MAGIC, 4);
	le_put(h + 4, WIRE_VERSION, 2);
	le_put(h + 6, C_RUN, 2);
	le_put(h + 8, 131000, 4);
	assert_int_equal(wire_reader_feed(&r, &proto_client_req, h, sizeof h, &used, &m, &e),
			 WIRE_AGAIN);
	assert_int_equal(r.bcap, 0);
	assert_int_equal(wire_reader_feed(&r, &proto_client_req, chunk, 10, &used, &m, &e),
			 WIRE_AGAIN);
	assert_int_equal(r.bcap, 4096);
	assert_int_equal(wire_reader_feed(&r, &proto_client_req, chunk, sizeof chunk, &used,
					  &m, &e), WIRE_AGAIN);
	assert_int_equal(r.bcap, 8192);
	wire_reader_reset(&r);
	assert_int_equal(r.bcap, 0);
}

static void test_stream_bad_message_reported(void **state)
{
	struct wire_reader r = { 0 };
	struct wire_msg m;
	struct cerr e = { 0 };
	struct raw w = { 0 };
	size_t used;

	raw_hdr(&w, WIRE_MAGIC, WIRE_VERSION, C_STATUS);
	raw_field(&w, F_JOB_REF, WT_STR, "", 0);
	raw_done(&w);
	for (size_t i = 0; i + 1 < w.len; i++)
		assert_int_equal(wire_reader_feed(&r, &proto_client_req, w.b + i, 1,
						  &used, &m, &e), WIRE_AGAIN);
	/* Consumed whole: the stream keeps its framing. */
	assert_int_equal(wire_reader_feed(&r, &proto_client_req, w.b + w.len - 1, 1,
					  &used, &m, &e), WIRE_BAD);
	assert_err(&e, ERANGE, "job[0] is 0 bytes");
	free(w.b);
	wire_reader_reset(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_helper_start),
		cmocka_unit_test(test_roundtrip_client_run),
		cmocka_unit_test(test_roundtrip_client_job_and_bytes),
		cmocka_unit_test(test_roundtrip_empty_body),
		cmocka_unit_test(test_field_bounds),
		cmocka_unit_test(test_repeat_bounds),
		cmocka_unit_test(test_body_bound),
		cmocka_unit_test(test_per_type_body_caps),
		cmocka_unit_test(test_max_fields),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_nul_in_str),
		cmocka_unit_test(test_sender_checks),
		cmocka_unit_test_setup_teardown(test_packet_start_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_packet_unwanted_fd, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_packet_four_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_packet_fd_flood, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_packet_garbage_then_valid, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_packet_eof_again, setup_pair, teardown_pair),
		cmocka_unit_test(test_stream_feed_bytewise),
		cmocka_unit_test(test_stream_socket_bytewise),
		cmocka_unit_test(test_stream_eof_mid_message),
		cmocka_unit_test(test_stream_oversized_header),
		cmocka_unit_test(test_stream_grows_with_data),
		cmocka_unit_test(test_stream_bad_message_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
