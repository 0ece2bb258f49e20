/* libFuzzer: a byte stream through wire_reader_feed, cut into pieces at
 * points the input chooses.  However the bytes are split, the reader
 * must report the same messages and errors as when given them whole.
 *
 * Input: byte 0 picks the link and direction (bits 0-1) and the split
 * style, bytes 1-4 seed the split points, the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"
#include "wire_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 256

struct events {
	int32_t ev[MAX_EVENTS];	/* type << 8 | nvals, or -errno; -10000: partial */
	size_t n;
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_wire_stream: %s\n", what);
	abort();
}

static void note(struct events *ev, int32_t v)
{
	if (ev->n < MAX_EVENTS)
		ev->ev[ev->n] = v;
	ev->n++;
}

/* Feed one piece; returns false once the stream is dead. */
static bool feed(struct wire_reader *r, const struct wire_proto *p,
		 const uint8_t *b, size_t len, struct events *ev)
{
	while (len) {
		struct wire_msg m;
		struct cerr e = { 0 };
		size_t used = (size_t)-1;
		int rc = wire_reader_feed(r, p, b, len, &used, &m, &e);

		if (used > len || (rc == WIRE_AGAIN && used != len))
			die("bad used count");
		if (rc == WIRE_ERR) {
			if (!e.msg[0] || e.num <= 0)
				die("error without errno or message");
			note(ev, -e.num);
			return false;
		}
		if (rc == WIRE_READY) {
			if (!m.spec || m.spec->type != m.type)
				die("message without its schema");
			note(ev, (int32_t)(m.type << 8 | (m.nvals & 0xff)));
			wire_msg_free(&m);
		} else if (rc == WIRE_BAD) {
			/* a bad message consumed whole: the stream goes on */
			if (!e.msg[0] || e.num <= 0)
				die("bad message without errno or message");
			note(ev, -e.num);
		} else if (rc != WIRE_AGAIN) {
			die("unexpected return");
		}
		b += used;
		len -= used;
	}
	return true;
}

static uint32_t next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void run(const struct wire_proto *p, const uint8_t *b, size_t len,
		uint32_t seed, unsigned style, struct events *ev)
{
	struct wire_reader r = { 0 };
	size_t off = 0;
	bool alive = true;

	memset(ev, 0, sizeof *ev);
	seed |= 1;
	while (alive && off < len) {
		size_t k = len - off;
		if (style == 1)
			k = 1;
		else if (style == 2)
			k = 1 + next(&seed) % 16;
		else if (style == 3)
			k = 1 + next(&seed) % (WIRE_HDR_LEN * 4);
		if (k > len - off)
			k = len - off;
		alive = feed(&r, p, b + off, k, ev);
		off += k;
	}
	if (alive && r.hlen)
		note(ev, -10000);
	wire_reader_reset(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct wire_proto *p;
	struct events whole, cut;
	uint32_t seed;

	if (size < 5)
		return 0;
	p = (const struct wire_proto *[]){ &proto_helper_req, &proto_helper_ev,
					   &proto_client_req, &proto_client_rep }[data[0] & 3];
	memcpy(&seed, data + 1, sizeof seed);
	run(p, data + 5, size - 5, seed, 0, &whole);
	run(p, data + 5, size - 5, seed, 1 + (data[0] >> 2) % 3, &cut);
	if (whole.n != cut.n ||
	    memcmp(whole.ev, cut.ev, sizeof(int32_t) * (whole.n < MAX_EVENTS ? whole.n : MAX_EVENTS)))
		die("splitting the stream changed what was read");
	return 0;
}
