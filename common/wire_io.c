#include "wire_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

/* --- SOCK_SEQPACKET -------------------------------------------------- */

int wire_send_packet(int sock, const struct wire_out *o, struct cerr *e)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = o->buf, .iov_len = o->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (o->nfds) {
		struct cmsghdr *c;
		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * o->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * o->nfds);
		memcpy(CMSG_DATA(c), o->fds, sizeof(int) * o->nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cerr_sys(e, "%s: send", o->proto->name);
	if ((size_t)n != o->len)
		return cerr_set(e, EMSGSIZE, "%s: short send", o->proto->name);
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Collect every fd from the control data; any cmsg that is not
 * SCM_RIGHTS is an error, but its fds are still closed. */
static int collect_fds(struct msghdr *mh, int *fds, size_t cap, size_t *n,
		       bool *bad)
{
	*n = 0;
	*bad = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k;
		int *src;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			*bad = true;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		src = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, src + i, sizeof fd);
			if (*n < cap)
				fds[(*n)++] = fd;
			else
				close(fd);	/* cannot happen: cap >= buffer */
		}
	}
	return 0;
}

#define RECV_FD_SLOTS 64	/* room to see (and close) a flood of fds */

int wire_recv_packet(int sock, const struct wire_proto *p, struct wire_msg *m,
		     struct cerr *e)
{
	static uint8_t buf[WIRE_HDR_LEN + WIRE_MAX_BODY];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RECV_FD_SLOTS)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	int fds[RECV_FD_SLOTS];
	size_t nfds;
	bool bad;
	ssize_t n;

	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < WIRE_MAX_FDS; i++)
		m->fds[i] = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			cerr_set(e, EAGAIN, "%s: no message", p->name);
			return WIRE_AGAIN;
		}
		cerr_sys(e, "%s: receive", p->name);
		return WIRE_ERR;
	}
	collect_fds(&mh, fds, RECV_FD_SLOTS, &nfds, &bad);
	if (n == 0 && nfds == 0 && !(mh.msg_flags & MSG_CTRUNC))
		return WIRE_EOF;
	/* From here on the datagram is consumed whatever it held: a bad
	 * one leaves the link usable. */
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: too many fds on one message (control data truncated)",
			 p->name);
		return WIRE_BAD;
	}
	if (bad) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: unexpected control message", p->name);
		return WIRE_BAD;
	}
	if ((size_t)n > sizeof buf || (mh.msg_flags & MSG_TRUNC)) {
		close_fds(fds, nfds);
		cerr_set(e, EMSGSIZE, "%s: datagram of %zd bytes exceeds %zu",
			 p->name, n, sizeof buf);
		return WIRE_BAD;
	}
	if (wire_decode(p, buf, (size_t)n, m, e) < 0) {
		close_fds(fds, nfds);
		return WIRE_BAD;
	}
	if (nfds < m->spec->min_fds || nfds > m->spec->max_fds) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: %s carries %zu fds, allowed %u to %u",
			 p->name, m->spec->name, nfds, m->spec->min_fds,
			 m->spec->max_fds);
		wire_msg_free(m);
		return WIRE_BAD;
	}
	memcpy(m->fds, fds, nfds * sizeof(int));
	m->nfds = (uint32_t)nfds;
	return WIRE_READY;
}

/* --- SOCK_STREAM ----------------------------------------------------- */

#define WIRE_READ_CHUNK 65536	/* a whole LOG_DATA body in one read */

void wire_reader_reset(struct wire_reader *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* r->body keeps WIRE_HDR_LEN bytes in front of the body for the header,
 * so the whole message decodes where it lies. */
static int reader_complete(struct wire_reader *r, const struct wire_proto *p,
			   struct wire_msg *m, struct cerr *e)
{
	int rc;

	if (!r->body && !(r->body = malloc(WIRE_HDR_LEN))) {
		wire_reader_reset(r);
		cerr_sys(e, "%s: reassembly", p->name);
		return WIRE_ERR;
	}
	memcpy(r->body, r->hdr, WIRE_HDR_LEN);
	rc = wire_decode(p, r->body, WIRE_HDR_LEN + (size_t)r->bwant, m, e);
	wire_reader_reset(r);
	/* The whole message was consumed: the stream is still framed. */
	return rc < 0 ? WIRE_BAD : WIRE_READY;
}

/* Room for need body bytes.  The buffer grows with what has arrived, never
 * ahead of it to the length the header claims: a peer that announces a
 * large body and sends little costs little. */
static int grow(struct wire_reader *r, uint32_t need)
{
	uint32_t cap = r->bcap ? r->bcap : 4096;
	uint8_t *nb;

	if (need <= r->bcap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > r->bwant)
		cap = r->bwant;
	nb = realloc(r->body, WIRE_HDR_LEN + (size_t)cap);
	if (!nb)
		return -1;
	r->body = nb;
	r->bcap = cap;
	return 0;
}

int wire_reader_feed(struct wire_reader *r, const struct wire_proto *p,
		     const uint8_t *data, size_t len, size_t *used,
		     struct wire_msg *m, struct cerr *e)
{
	size_t k;

	*used = 0;
	if (r->hlen < WIRE_HDR_LEN) {
		uint16_t type;
		k = WIRE_HDR_LEN - r->hlen;
		if (k > len)
			k = len;
		memcpy(r->hdr + r->hlen, data, k);
		r->hlen += (uint32_t)k;
		*used += k;
		data += k;
		len -= k;
		if (r->hlen < WIRE_HDR_LEN)
			return WIRE_AGAIN;
		if (wire_check_header(p, r->hdr, &type, &r->bwant, e) < 0) {
			wire_reader_reset(r);
			return WIRE_ERR;
		}
	}
	k = r->bwant - r->blen;
	if (k > len)
		k = len;
	if (k && grow(r, r->blen + (uint32_t)k) < 0) {
		wire_reader_reset(r);
		cerr_sys(e, "%s: reassembly", p->name);
		return WIRE_ERR;
	}
	if (k)
		memcpy(r->body + WIRE_HDR_LEN + r->blen, data, k);
	r->blen += (uint32_t)k;
	*used += k;
	if (r->blen < r->bwant)
		return WIRE_AGAIN;
	return reader_complete(r, p, m, e);
}

int wire_reader_read(int fd, struct wire_reader *r, const struct wire_proto *p,
		     struct wire_msg *m, struct cerr *e)
{
	for (;;) {
		/* One read per LOG_DATA chunk, not sixteen: the syscalls were
		 * most of what `corral logs` cost. */
		uint8_t tmp[WIRE_READ_CHUNK];
		size_t want, used;
		ssize_t n;
		int rc;

		want = r->hlen < WIRE_HDR_LEN ? WIRE_HDR_LEN - r->hlen
					      : r->bwant - r->blen;
		if (want > sizeof tmp)
			want = sizeof tmp;
		if (want == 0) /* empty body: header alone completes it */
			return wire_reader_feed(r, p, tmp, 0, &used, m, e);
		n = read(fd, tmp, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return WIRE_AGAIN;
			cerr_sys(e, "%s: read", p->name);
			return WIRE_ERR;
		}
		if (n == 0) {
			bool mid = r->hlen > 0;
			wire_reader_reset(r);
			if (!mid)
				return WIRE_EOF;
			cerr_set(e, EPIPE, "%s: connection closed inside a message",
				 p->name);
			return WIRE_ERR;
		}
		rc = wire_reader_feed(r, p, tmp, (size_t)n, &used, m, e);
		if (rc != WIRE_AGAIN)
			return rc;
	}
}

int wire_send_stream(int fd, const struct wire_out *o, struct cerr *e)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = send(fd, o->buf + off, o->len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(e, "%s: send", o->proto->name);
		}
		off += (size_t)n;
	}
	return 0;
}

int wire_write_file(int fd, struct wire_out *o, struct cerr *e)
{
	size_t off = 0;
	int r = wire_out_finish(o, e);

	while (r == 0 && off < o->len) {
		ssize_t n = write(fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = cerr_sys(e, "%s: write", o->proto->name);
		else
			off += (size_t)n;
	}
	wire_out_free(o);
	return r;
}
