/* libFuzzer: a buffer of resume records through wire_decode_each, as a
 * successor corrald (manager/resume.c) and a re-executed helper
 * (helper/main.c) read what their predecessor handed over.  Every record
 * that decodes must satisfy its schema through the accessors; the count
 * of records must add up; nothing may leak or overrun. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, unsigned type)
{
	fprintf(stderr, "fuzz_resume_records: %s (record type %u)\n", what, type);
	abort();
}

struct seen {
	size_t n, bytes;
};

static int each(void *ctx, struct wire_msg *m, struct cerr *e)
{
	struct seen *s = ctx;

	(void)e;
	if (!m->spec || m->spec->type != m->type)
		die("record without its schema", m->type);
	for (size_t i = 0; i < m->spec->nfields; i++) {
		const struct wire_field_spec *f = &m->spec->fields[i];
		size_t n = wire_count(m, f->id);
		if ((f->flags & WF_REQUIRED) && !n)
			die("a required field is missing", m->type);
		if (f->type == WT_STR && n && strlen(wire_str(m, f->id)) > f->max)
			die("a string past its bound", m->type);
		if ((f->type == WT_U32 || f->type == WT_U64) && n &&
		    (wire_u64(m, f->id, 0) < f->min || wire_u64(m, f->id, 0) > f->max))
			die("a number out of bounds", m->type);
	}
	s->n++;
	s->bytes += WIRE_HDR_LEN;
	for (uint32_t i = 0; i < m->nvals; i++)
		s->bytes += WIRE_FIELD_HDR_LEN + m->vals[i].len;
	wire_msg_free(m);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	struct cerr e;

	/* Whole: the bytes of the records read are the buffer. */
	if (wire_decode_each(&proto_resume, data, size, each, &s, &e) == 0 &&
	    s.bytes != size)
		die("records do not add up to the buffer", 0);
	return 0;
}
