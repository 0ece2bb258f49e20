/* libFuzzer: one datagram through wire_decode, for both links.  What
 * decodes must satisfy its schema through the accessors and re-encode to
 * exactly the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const struct wire_msg *m)
{
	fprintf(stderr, "fuzz_wire_packet: %s (message type %u)\n", what,
		m ? m->type : 0u);
	abort();
}

static void check_field(const struct wire_msg *m, const struct wire_field_spec *f)
{
	size_t n = wire_count(m, f->id), k = 0;
	size_t most = f->flags & WF_REPEATED ? f->max_count : 1;

	if (n > most || ((f->flags & WF_REQUIRED) && n == 0))
		die("field count breaks the schema", m);
	for (size_t i = 0; i < n; i++) {
		const struct wire_val *v = wire_nth(m, f->id, i);
		if (!v || v->type != f->type)
			die("wire_nth lost a field", m);
		if (f->type == WT_STR && strlen((const char *)v->p) != v->len)
			die("string length differs from its field", m);
		if ((f->type == WT_STR || f->type == WT_BYTES) &&
		    (v->len < f->min || v->len > f->max))
			die("length out of bounds accepted", m);
	}
	if (wire_nth(m, f->id, n))
		die("wire_nth past the end", m);
	if (f->type == WT_STR) {
		const char **sv = wire_strv(m, f->id, &k);
		if (!sv || k != n || sv[n])
			die("wire_strv count", m);
		for (size_t i = 0; i < n; i++)
			if (sv[i] != (const char *)wire_nth(m, f->id, i)->p)
				die("wire_strv order", m);
		free(sv);
	}
}

static void reencode(const struct wire_proto *p, const struct wire_msg *m,
		     const uint8_t *data, size_t size)
{
	struct wire_out o;
	struct cerr e = { 0 };

	wire_out_init(&o, p, m->type);
	for (uint32_t i = 0; i < m->nvals; i++) {
		const struct wire_val *v = &m->vals[i];
		switch (v->type) {
		case WT_U32: wire_put_u32(&o, v->id, (uint32_t)v->u); break;
		case WT_U64: wire_put_u64(&o, v->id, v->u); break;
		case WT_STR: wire_put_str(&o, v->id, (const char *)v->p); break;
		case WT_BYTES: wire_put_bytes(&o, v->id, v->p, v->len); break;
		default: die("decoded an unknown field type", m);
		}
	}
	/* fds travel beside the bytes; the sender only counts them */
	for (unsigned k = 0; k < m->spec->min_fds; k++)
		wire_put_fd(&o, -1);
	if (wire_out_finish(&o, &e) < 0) {
		fprintf(stderr, "re-encode refused: %s\n", e.msg);
		die("decoder accepted what the encoder refuses", m);
	}
	if (o.len != size || memcmp(o.buf, data, size))
		die("re-encoding differs", m);
	wire_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct wire_proto *ps[] = { &proto_helper_req, &proto_helper_ev,
					  &proto_client_req, &proto_client_rep };

	for (size_t i = 0; i < 4; i++) {
		struct wire_msg m;
		struct cerr e = { 0 };

		if (wire_decode(ps[i], data, size, &m, &e) < 0) {
			if (!e.msg[0] || m.arena)
				die("rejection without a message or with memory", NULL);
			continue;
		}
		for (size_t f = 0; f < m.spec->nfields; f++)
			check_field(&m, &m.spec->fields[f]);
		reencode(ps[i], &m, data, size);
		wire_msg_free(&m);
	}
	return 0;
}
