#include "outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct obuf *obuf_from(const struct wire_out *o)
{
	struct obuf *b = malloc(sizeof *b + o->len);

	if (!b)
		return NULL;
	b->refs = 1;
	b->len = (uint32_t)o->len;
	memcpy(b->data, o->buf, o->len);
	return b;
}

void obuf_put(struct obuf *b)
{
	if (b && --b->refs == 0)
		free(b);
}

int outq_push_buf(struct outq *q, struct obuf *b, struct cerr *e)
{
	struct oent *n = malloc(sizeof *n);

	if (!n)
		return cerr_sys(e, "reply queue");
	b->refs++;
	n->b = b;
	n->next = NULL;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->bytes += b->len;
	return 0;
}

int outq_push(struct outq *q, struct wire_out *o, struct cerr *e)
{
	struct obuf *b;
	int r;

	if (wire_out_finish(o, e) < 0)
		return -1;
	b = obuf_from(o);
	if (!b)
		return cerr_sys(e, "reply queue");
	r = outq_push_buf(q, b, e);
	obuf_put(b);
	return r;
}

static void pop(struct outq *q)
{
	struct oent *h = q->head;

	q->head = h->next;
	if (!q->head)
		q->tail = NULL;
	obuf_put(h->b);
	free(h);
	q->head_off = 0;
}

/* Account for n bytes written from the front of the queue. */
static void consumed(struct outq *q, size_t n)
{
	q->bytes -= n;
	while (n) {
		size_t left = q->head->b->len - q->head_off;
		if (n < left) {
			q->head_off += n;
			return;
		}
		n -= left;
		pop(q);
	}
}

int outq_flush(struct outq *q, int fd, struct cerr *e)
{
	while (q->head) {
		struct iovec iov[16];
		struct msghdr mh = { .msg_iov = iov };
		struct oent *p = q->head;
		ssize_t n;

		for (size_t off = q->head_off; p && mh.msg_iovlen < 16;
		     p = p->next, off = 0) {
			iov[mh.msg_iovlen].iov_base = p->b->data + off;
			iov[mh.msg_iovlen++].iov_len = p->b->len - off;
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return cerr_sys(e, "send reply");
		consumed(q, (size_t)n);
	}
	return 1;
}

void outq_clear(struct outq *q)
{
	while (q->head)
		pop(q);
	q->bytes = 0;
}
