#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

const struct wire_msg_spec *wire_find_spec(const struct wire_proto *p,
					   uint16_t type)
{
	for (size_t i = 0; i < p->nmsgs; i++)
		if (p->msgs[i].type == type)
			return &p->msgs[i];
	return NULL;
}

static const struct wire_field_spec *find_field(const struct wire_msg_spec *s,
						uint16_t id)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i].id == id)
			return &s->fields[i];
	return NULL;
}

static uint32_t body_cap(const struct wire_msg_spec *s)
{
	return s->max_body && s->max_body < WIRE_MAX_BODY ? s->max_body
							  : WIRE_MAX_BODY;
}

int wire_check_header(const struct wire_proto *p, const uint8_t *hdr,
		      uint16_t *type, uint32_t *body_len, struct cerr *e)
{
	const struct wire_msg_spec *s;
	uint32_t magic = get32(hdr), len = get32(hdr + 8);
	uint16_t ver = get16(hdr + 4), t = get16(hdr + 6);

	if (magic != WIRE_MAGIC)
		return cerr_set(e, EPROTO, "%s: bad magic 0x%08x", p->name,
				magic);
	if (ver != WIRE_VERSION)
		return cerr_set(e, EPROTO, "%s: unsupported version %u",
				p->name, ver);
	s = wire_find_spec(p, t);
	if (!s)
		return cerr_set(e, EBADMSG, "%s: unknown message type %u",
				p->name, t);
	if (len > body_cap(s))
		return cerr_set(e, EMSGSIZE,
				"%s: %s body of %u bytes exceeds limit %u",
				p->name, s->name, len, body_cap(s));
	*type = t;
	*body_len = len;
	return 0;
}

/* Check one field against its spec; the value starts at v. */
static int check_field(const struct wire_msg_spec *s,
		       const struct wire_field_spec *f, const uint8_t *v,
		       uint32_t len, uint32_t nth, struct cerr *e)
{
	uint64_t u;

	switch (f->type) {
	case WT_U32:
	case WT_U64:
	case WT_I64:
		if (len != (f->type == WT_U32 ? 4u : 8u))
			return cerr_set(e, EBADMSG,
					"%s: field %s has length %u, want %u",
					s->name, f->name, len,
					f->type == WT_U32 ? 4u : 8u);
		if (f->type == WT_I64) {
			int64_t i = (int64_t)get64(v);
			if (i < (int64_t)f->min || i > (int64_t)f->max)
				return cerr_set(e, ERANGE,
						"%s: field %s value %lld out of range [%lld, %lld]",
						s->name, f->name, (long long)i,
						(long long)f->min,
						(long long)f->max);
			return 0;
		}
		u = f->type == WT_U32 ? get32(v) : get64(v);
		if (u < f->min || u > f->max)
			return cerr_set(e, ERANGE,
					"%s: field %s value %llu out of range [%llu, %llu]",
					s->name, f->name,
					(unsigned long long)u,
					(unsigned long long)f->min,
					(unsigned long long)f->max);
		return 0;
	case WT_STR:
		if (memchr(v, '\0', len))
			return cerr_set(e, EBADMSG,
					"%s: field %s[%u] contains a NUL byte",
					s->name, f->name, nth);
		__attribute__((fallthrough));
	case WT_BYTES:
		if (len < f->min || len > f->max)
			return cerr_set(e, ERANGE,
					"%s: field %s[%u] is %u bytes, allowed %llu to %llu",
					s->name, f->name, nth, len,
					(unsigned long long)f->min,
					(unsigned long long)f->max);
		return 0;
	}
	return cerr_set(e, EINVAL, "%s: field %s has a bad schema type",
			s->name, f->name);
}

/* Pass one: validate the body's structure and every field; count them. */
static int scan_body(const struct wire_msg_spec *s, const uint8_t *b,
		     uint32_t blen, uint32_t *nvals, struct cerr *e)
{
	uint32_t counts[64] = { 0 };	/* per spec field index */
	uint32_t off = 0, n = 0;

	if (s->nfields > ARRAY_SIZE(counts))
		return cerr_set(e, EINVAL, "%s: schema too large", s->name);
	while (off < blen) {
		const struct wire_field_spec *f;
		uint32_t len, idx;
		uint16_t id, type;

		if (blen - off < WIRE_FIELD_HDR_LEN)
			return cerr_set(e, EBADMSG,
					"%s: truncated field header at offset %u",
					s->name, off);
		id = get16(b + off);
		type = get16(b + off + 2);
		len = get32(b + off + 4);
		off += WIRE_FIELD_HDR_LEN;
		if (len > blen - off)
			return cerr_set(e, EBADMSG,
					"%s: field %u length %u runs past the body (%u left)",
					s->name, id, len, blen - off);
		f = find_field(s, id);
		if (!f)
			return cerr_set(e, EBADMSG, "%s: unknown field %u",
					s->name, id);
		if (type != f->type)
			return cerr_set(e, EBADMSG,
					"%s: field %s has type %u, want %u",
					s->name, f->name, type, f->type);
		idx = (uint32_t)(f - s->fields);
		if (counts[idx] && !(f->flags & WF_REPEATED))
			return cerr_set(e, EBADMSG,
					"%s: field %s appears more than once",
					s->name, f->name);
		if ((f->flags & WF_REPEATED) && counts[idx] >= f->max_count)
			return cerr_set(e, E2BIG,
					"%s: field %s appears more than %u times",
					s->name, f->name, f->max_count);
		if (check_field(s, f, b + off, len, counts[idx], e) < 0)
			return -1;
		counts[idx]++;
		if (++n > WIRE_MAX_FIELDS)
			return cerr_set(e, E2BIG,
					"%s: more than %u fields", s->name,
					WIRE_MAX_FIELDS);
		off += len;
	}
	for (size_t i = 0; i < s->nfields; i++)
		if ((s->fields[i].flags & WF_REQUIRED) && !counts[i])
			return cerr_set(e, EBADMSG,
					"%s: required field %s is missing",
					s->name, s->fields[i].name);
	*nvals = n;
	return 0;
}

int wire_decode(const struct wire_proto *p, const uint8_t *buf, size_t len,
		struct wire_msg *m, struct cerr *e)
{
	const struct wire_msg_spec *s;
	uint32_t blen, nvals, off = 0;
	uint16_t type;
	uint8_t *strs;

	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < WIRE_MAX_FDS; i++)
		m->fds[i] = -1;
	if (len < WIRE_HDR_LEN)
		return cerr_set(e, EBADMSG, "%s: message of %zu bytes is shorter than the header",
				p->name, len);
	if (wire_check_header(p, buf, &type, &blen, e) < 0)
		return -1;
	if (len - WIRE_HDR_LEN != blen)
		return cerr_set(e, EBADMSG,
				"%s: header says %u body bytes, got %zu",
				p->name, blen, len - WIRE_HDR_LEN);
	s = wire_find_spec(p, type);
	buf += WIRE_HDR_LEN;
	if (scan_body(s, buf, blen, &nvals, e) < 0)
		return -1;
	/* One allocation: the value table, then each value's bytes
	 * followed by a NUL so strings can be used in place. */
	m->arena = malloc((size_t)nvals * sizeof *m->vals + blen + nvals + 1);
	if (!m->arena)
		return cerr_sys(e, "%s: decode", p->name);
	m->vals = (struct wire_val *)m->arena;
	strs = m->arena + (size_t)nvals * sizeof *m->vals;
	m->spec = s;
	m->type = type;
	while (off < blen) {
		struct wire_val *v = &m->vals[m->nvals++];
		v->id = get16(buf + off);
		v->type = (uint8_t)get16(buf + off + 2);
		v->len = get32(buf + off + 4);
		off += WIRE_FIELD_HDR_LEN;
		memcpy(strs, buf + off, v->len);
		strs[v->len] = '\0';
		v->p = strs;
		if (v->type == WT_U32)
			v->u = get32(buf + off);
		else if (v->type == WT_U64 || v->type == WT_I64)
			v->u = get64(buf + off);
		strs += v->len + 1;
		off += v->len;
	}
	return 0;
}

void wire_msg_free(struct wire_msg *m)
{
	for (uint32_t i = 0; i < m->nfds && i < WIRE_MAX_FDS; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
	free(m->arena);
	m->arena = NULL;
	m->vals = NULL;
	m->nvals = 0;
}

const struct wire_val *wire_nth(const struct wire_msg *m, uint16_t id,
				size_t idx)
{
	for (uint32_t i = 0; i < m->nvals; i++)
		if (m->vals[i].id == id && idx-- == 0)
			return &m->vals[i];
	return NULL;
}

bool wire_has(const struct wire_msg *m, uint16_t id)
{
	return wire_nth(m, id, 0) != NULL;
}

uint64_t wire_u64(const struct wire_msg *m, uint16_t id, uint64_t dflt)
{
	const struct wire_val *v = wire_nth(m, id, 0);
	return v ? v->u : dflt;
}

uint32_t wire_u32(const struct wire_msg *m, uint16_t id, uint32_t dflt)
{
	const struct wire_val *v = wire_nth(m, id, 0);
	return v ? (uint32_t)v->u : dflt;
}

int64_t wire_i64(const struct wire_msg *m, uint16_t id, int64_t dflt)
{
	const struct wire_val *v = wire_nth(m, id, 0);
	return v ? (int64_t)v->u : dflt;
}

const char *wire_str(const struct wire_msg *m, uint16_t id)
{
	const struct wire_val *v = wire_nth(m, id, 0);
	return v && v->type == WT_STR ? (const char *)v->p : NULL;
}

const uint8_t *wire_bytes(const struct wire_msg *m, uint16_t id, size_t *len)
{
	const struct wire_val *v = wire_nth(m, id, 0);
	if (!v)
		return NULL;
	*len = v->len;
	return v->p;
}

size_t wire_count(const struct wire_msg *m, uint16_t id)
{
	size_t n = 0;
	for (uint32_t i = 0; i < m->nvals; i++)
		n += m->vals[i].id == id;
	return n;
}

const char **wire_strv(const struct wire_msg *m, uint16_t id, size_t *count)
{
	size_t n = wire_count(m, id), k = 0;
	const char **v = calloc(n + 1, sizeof *v);

	if (!v)
		return NULL;
	for (uint32_t i = 0; i < m->nvals; i++)
		if (m->vals[i].id == id && m->vals[i].type == WT_STR)
			v[k++] = (const char *)m->vals[i].p;
	if (count)
		*count = k;
	return v;
}

int wire_take_fd(struct wire_msg *m, uint32_t idx)
{
	int fd;

	if (idx >= m->nfds || idx >= WIRE_MAX_FDS)
		return -1;
	fd = m->fds[idx];
	m->fds[idx] = -1;
	return fd;
}

/* --- encoding -------------------------------------------------------- */

void wire_out_init(struct wire_out *o, const struct wire_proto *p,
		   uint16_t type)
{
	memset(o, 0, sizeof *o);
	o->proto = p;
	o->type = type;
	o->cap = 256;
	o->buf = malloc(o->cap);
	if (!o->buf) {
		o->failed = true;
		cerr_sys(&o->err, "wire: out of memory");
		return;
	}
	o->len = WIRE_HDR_LEN;
}

static void put_field(struct wire_out *o, uint16_t id, uint16_t type,
		      const void *v, size_t n)
{
	size_t need;

	if (o->failed)
		return;
	if (n > WIRE_MAX_BODY) {
		o->failed = true;
		cerr_set(&o->err, EMSGSIZE, "wire: field %u of %zu bytes is too large", id, n);
		return;
	}
	need = o->len + WIRE_FIELD_HDR_LEN + n;
	if (need > WIRE_HDR_LEN + WIRE_MAX_BODY) {
		o->failed = true;
		cerr_set(&o->err, EMSGSIZE,
			 "wire: message would exceed %u body bytes",
			 WIRE_MAX_BODY);
		return;
	}
	if (need > o->cap) {
		size_t cap = o->cap;
		uint8_t *nb;
		while (cap < need)
			cap *= 2;
		nb = realloc(o->buf, cap);
		if (!nb) {
			o->failed = true;
			cerr_sys(&o->err, "wire: out of memory");
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	put16(o->buf + o->len, id);
	put16(o->buf + o->len + 2, type);
	put32(o->buf + o->len + 4, (uint32_t)n);
	if (n)
		memcpy(o->buf + o->len + WIRE_FIELD_HDR_LEN, v, n);
	o->len = need;
}

void wire_put_u32(struct wire_out *o, uint16_t id, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	put_field(o, id, WT_U32, b, 4);
}

void wire_put_u64(struct wire_out *o, uint16_t id, uint64_t v)
{
	uint8_t b[8];
	put64(b, v);
	put_field(o, id, WT_U64, b, 8);
}

void wire_put_i64(struct wire_out *o, uint16_t id, int64_t v)
{
	uint8_t b[8];
	put64(b, (uint64_t)v);
	put_field(o, id, WT_I64, b, 8);
}

void wire_put_str(struct wire_out *o, uint16_t id, const char *s)
{
	put_field(o, id, WT_STR, s, strlen(s));
}

void wire_put_bytes(struct wire_out *o, uint16_t id, const void *p, size_t n)
{
	put_field(o, id, WT_BYTES, p, n);
}

void wire_put_fd(struct wire_out *o, int fd)
{
	if (o->failed)
		return;
	if (o->nfds >= WIRE_MAX_FDS) {
		o->failed = true;
		cerr_set(&o->err, E2BIG, "wire: more than %u fds",
			 WIRE_MAX_FDS);
		return;
	}
	o->fds[o->nfds++] = fd;
}

int wire_out_finish(struct wire_out *o, struct cerr *e)
{
	const struct wire_msg_spec *s;
	uint32_t nvals;

	if (o->failed) {
		*e = o->err;
		return -1;
	}
	put32(o->buf, WIRE_MAGIC);
	put16(o->buf + 4, WIRE_VERSION);
	put16(o->buf + 6, o->type);
	put32(o->buf + 8, (uint32_t)(o->len - WIRE_HDR_LEN));
	s = wire_find_spec(o->proto, o->type);
	if (!s)
		return cerr_set(e, EINVAL, "%s: no message type %u",
				o->proto->name, o->type);
	if (o->len - WIRE_HDR_LEN > body_cap(s))
		return cerr_set(e, EMSGSIZE, "%s: %s body too large",
				o->proto->name, s->name);
	if (o->nfds < s->min_fds || o->nfds > s->max_fds)
		return cerr_set(e, EINVAL, "%s: %s carries %u fds, allowed %u to %u",
				o->proto->name, s->name, o->nfds, s->min_fds,
				s->max_fds);
	return scan_body(s, o->buf + WIRE_HDR_LEN,
			 (uint32_t)(o->len - WIRE_HDR_LEN), &nvals, e);
}

void wire_out_free(struct wire_out *o)
{
	free(o->buf);
	o->buf = NULL;
}

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
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: too many fds on one message (control data truncated)",
			 p->name);
		return WIRE_ERR;
	}
	if (bad) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: unexpected control message", p->name);
		return WIRE_ERR;
	}
	if ((size_t)n > sizeof buf || (mh.msg_flags & MSG_TRUNC)) {
		close_fds(fds, nfds);
		cerr_set(e, EMSGSIZE, "%s: datagram of %zd bytes exceeds %zu",
			 p->name, n, sizeof buf);
		return WIRE_ERR;
	}
	if (wire_decode(p, buf, (size_t)n, m, e) < 0) {
		close_fds(fds, nfds);
		return WIRE_ERR;
	}
	if (nfds < m->spec->min_fds || nfds > m->spec->max_fds) {
		close_fds(fds, nfds);
		cerr_set(e, EBADMSG, "%s: %s carries %zu fds, allowed %u to %u",
			 p->name, m->spec->name, nfds, m->spec->min_fds,
			 m->spec->max_fds);
		wire_msg_free(m);
		return WIRE_ERR;
	}
	memcpy(m->fds, fds, nfds * sizeof(int));
	m->nfds = (uint32_t)nfds;
	return WIRE_READY;
}

/* --- SOCK_STREAM ----------------------------------------------------- */

void wire_reader_reset(struct wire_reader *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

static int reader_complete(struct wire_reader *r, const struct wire_proto *p,
			   struct wire_msg *m, struct cerr *e)
{
	uint8_t *whole = malloc(WIRE_HDR_LEN + (size_t)r->bwant);
	int rc;

	if (!whole) {
		wire_reader_reset(r);
		cerr_sys(e, "%s: reassembly", p->name);
		return WIRE_ERR;
	}
	memcpy(whole, r->hdr, WIRE_HDR_LEN);
	if (r->bwant)
		memcpy(whole + WIRE_HDR_LEN, r->body, r->bwant);
	rc = wire_decode(p, whole, WIRE_HDR_LEN + (size_t)r->bwant, m, e);
	free(whole);
	wire_reader_reset(r);
	return rc < 0 ? WIRE_ERR : WIRE_READY;
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
		if (r->bwant) {
			r->body = malloc(r->bwant);
			if (!r->body) {
				wire_reader_reset(r);
				cerr_sys(e, "%s: reassembly", p->name);
				return WIRE_ERR;
			}
		}
	}
	k = r->bwant - r->blen;
	if (k > len)
		k = len;
	if (k)
		memcpy(r->body + r->blen, data, k);
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
		uint8_t tmp[4096];
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
