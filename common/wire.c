#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "le.h"

static const struct wire_msg_spec *any_spec(const struct wire_proto *p,
					    uint16_t type)
{
	for (size_t i = 0; i < p->nmsgs; i++)
		if (p->msgs[i].type == type)
			return &p->msgs[i];
	return NULL;
}

const struct wire_msg_spec *wire_find_spec(const struct wire_proto *p,
					   uint16_t type)
{
	const struct wire_msg_spec *s = any_spec(p, type);

	return s && s->dir == p->dir ? s : NULL;
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
	const struct wire_msg_spec *s, *other;
	uint32_t magic = le32_get(hdr), len = le32_get(hdr + 8);
	uint16_t ver = le16_get(hdr + 4), t = le16_get(hdr + 6);

	if (magic != WIRE_MAGIC)
		return cerr_set(e, EPROTO, "%s: bad magic 0x%08x", p->name,
				magic);
	if (ver != WIRE_VERSION)
		return cerr_set(e, EPROTO, "%s: unsupported version %u",
				p->name, ver);
	s = wire_find_spec(p, t);
	other = any_spec(p, t);
	if (!s && other)
		return cerr_set(e, EBADMSG, "%s: %s travels the other way",
				p->name, other->name);
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
		if (len != (f->type == WT_U32 ? 4u : 8u))
			return cerr_set(e, EBADMSG,
					"%s: field %s has length %u, want %u",
					s->name, f->name, len,
					f->type == WT_U32 ? 4u : 8u);
		u = f->type == WT_U32 ? le32_get(v) : le64_get(v);
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
		id = le16_get(b + off);
		type = le16_get(b + off + 2);
		len = le32_get(b + off + 4);
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
		v->id = le16_get(buf + off);
		v->type = (uint8_t)le16_get(buf + off + 2);
		v->len = le32_get(buf + off + 4);
		off += WIRE_FIELD_HDR_LEN;
		memcpy(strs, buf + off, v->len);
		strs[v->len] = '\0';
		v->p = strs;
		if (v->type == WT_U32)
			v->u = le32_get(buf + off);
		else if (v->type == WT_U64)
			v->u = le64_get(buf + off);
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
	le16_put(o->buf + o->len, id);
	le16_put(o->buf + o->len + 2, type);
	le32_put(o->buf + o->len + 4, (uint32_t)n);
	if (n)
		memcpy(o->buf + o->len + WIRE_FIELD_HDR_LEN, v, n);
	o->len = need;
}

void wire_put_u32(struct wire_out *o, uint16_t id, uint32_t v)
{
	uint8_t b[4];
	le32_put(b, v);
	put_field(o, id, WT_U32, b, 4);
}

void wire_put_u64(struct wire_out *o, uint16_t id, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	put_field(o, id, WT_U64, b, 8);
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
	le32_put(o->buf, WIRE_MAGIC);
	le16_put(o->buf + 4, WIRE_VERSION);
	le16_put(o->buf + 6, o->type);
	le32_put(o->buf + 8, (uint32_t)(o->len - WIRE_HDR_LEN));
	s = wire_find_spec(o->proto, o->type);
	if (!s)
		return cerr_set(e, EINVAL, "%s: no message type %u travels this way",
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

int wire_decode_each(const struct wire_proto *p, const uint8_t *buf, size_t len,
		     wire_each_fn fn, void *ctx, struct cerr *e)
{
	size_t off = 0;

	while (off < len) {
		struct wire_msg m;
		uint16_t type;
		uint32_t blen;

		if (len - off < WIRE_HDR_LEN)
			return cerr_set(e, EBADMSG, "%s: %zu stray bytes at %zu",
					p->name, len - off, off);
		if (wire_check_header(p, buf + off, &type, &blen, e) < 0)
			return cerr_wrap(e, "record at %zu", off);
		if (len - off - WIRE_HDR_LEN < blen)
			return cerr_set(e, EBADMSG, "%s: the record at %zu runs past the end",
					p->name, off);
		if (wire_decode(p, buf + off, WIRE_HDR_LEN + blen, &m, e) < 0 ||
		    fn(ctx, &m, e) < 0)
			return -1;
		off += WIRE_HDR_LEN + blen;
	}
	return 0;
}
