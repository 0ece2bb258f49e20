/* A per-client queue of outgoing messages.  Buffers are reference
 * counted so one record (the final JOB of a job with 10,000 followers)
 * is built once and queued to everyone. */
#ifndef CORRAL_OUTQ_H
#define CORRAL_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

struct obuf {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

struct oent {
	struct oent *next;
	struct obuf *b;
};

struct outq {
	struct oent *head, *tail;
	size_t bytes;		/* queued and not yet written */
	size_t head_off;	/* written part of head */
};

/* Copy a finished message into a new buffer with one reference. */
struct obuf *obuf_from(const struct wire_out *o);
void obuf_put(struct obuf *b);

/* Queue b (takes a new reference). */
int outq_push_buf(struct outq *q, struct obuf *b, struct cerr *e);
/* Finish o and queue a copy; o is still the caller's to free. */
int outq_push(struct outq *q, struct wire_out *o, struct cerr *e);

/* Write as much as the socket takes: 1 when empty, 0 when the socket is
 * full, -1 on error (e set). */
int outq_flush(struct outq *q, int fd, struct cerr *e);
void outq_clear(struct outq *q);

#endif
