/* The run-option table and the code every type shares; see runopt.def. */
#include "runopt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "le.h"
#include "parse.h"
#include "proto.h"

const struct runopt_def runopt_defs[OPT_COUNT] = {
#define OPT(ID, field, name, type, min, max, flag, meta, scope, cgfile, ctrl, \
	    policy, flags, help) \
	[OPT_##ID] = { name, flag, meta, cgfile, policy, help, field, RT_##type, \
		       SC_##scope, flags, ctrl, min, max },
#include "runopt.def"
#undef OPT
};

_Static_assert(OPT_COUNT <= 32, "struct runopts keeps its set bits in 32");

static const char *const ctrl_names[] = { "cpu", "memory", "io", "pids", "cpuset" };
_Static_assert(ARRAY_SIZE(ctrl_names) == 5 && CTRL_ALL == 31,
	       "one name per controller bit");

const char *ctrl_name(unsigned bit)
{
	for (unsigned i = 0; i < ARRAY_SIZE(ctrl_names); i++)
		if (bit == 1u << i)
			return ctrl_names[i];
	return "?";
}

bool runopt_is_str(unsigned id)
{
	uint8_t t = runopt_defs[id].type;

	return t == RT_CPUSET || t == RT_NAME || t == RT_PATH || t == RT_NETREF;
}

static int check_str(const struct runopt_def *d, const char *s, struct cerr *e)
{
	size_t n = strlen(s);

	if (n < d->min || n > d->max)
		return cerr_set(e, ERANGE, "\"%.64s\" is not %llu to %llu bytes long", s,
				(unsigned long long)d->min, (unsigned long long)d->max);
	switch (d->type) {
	case RT_CPUSET:
		if (!cpuset_valid(s))
			return cerr_set(e, EINVAL, "\"%s\" is not a list like 0-3,5", s);
		return 0;
	case RT_NAME:
		if (!job_name_valid(s))
			return cerr_set(e, EINVAL,
					"\"%s\": use letters, digits and ._-+@ (not first), and not a job id", s);
		return 0;
	case RT_PATH:
		if (s[0] != '/')
			return cerr_set(e, EINVAL, "\"%s\" is not an absolute path", s);
		return 0;
	case RT_NETREF: {
		char name[NET_NAME_MAX + 1];
		uint32_t addr;
		return parse_netref(s, name, &addr, e);
	}
	}
	return 0;
}

/* text: what was typed, for the message (NULL: the value came off the
 * wire, and is shown as the number it is). */
static int check_num(unsigned id, uint64_t v, const char *text,
		     struct cerr *e)
{
	const struct runopt_def *d = &runopt_defs[id];
	struct runopts b = { 0 };
	char num[24], bound[64];

	if (v >= d->min && v <= d->max)
		return 0;
	if (!text) {
		snprintf(num, sizeof num, "%" PRIu64, v);
		text = num;
	}
	b.u[id] = v < d->min ? d->min : d->max;
	runopt_format(&b, id, bound, sizeof bound);
	return cerr_set(e, ERANGE, "\"%s\" is %s the %s of %s", text,
			v < d->min ? "below" : "above",
			v < d->min ? "minimum" : "maximum", bound);
}

int runopt_parse(struct runopts *r, unsigned id, const char *text,
		 struct cerr *e)
{
	const struct runopt_def *d = &runopt_defs[id];
	uint64_t v = 0;
	int rc = 0;

	switch (d->type) {
	case RT_SIZE: rc = parse_size(text, &v, e); break;
	case RT_CPUS: rc = parse_cpus(text, &v, e); break;
	case RT_COUNT: rc = parse_u64(text, &v, e); break;
	case RT_DURATION: rc = parse_duration_ms(text, &v, e); break;
	case RT_FLAG: v = 1; break;	/* given: on (it takes no value) */
	case RT_OCTAL: rc = parse_octal(text, &v, e); break;
	default:
		if (check_str(d, text, e) < 0)
			return -1;
		r->s[id] = text;
		r->set |= 1u << id;
		return 0;
	}
	if (rc < 0 || check_num(id, v, text, e) < 0)
		return -1;
	r->u[id] = v;
	r->set |= 1u << id;
	return 0;
}

int runopts_check(const struct runopts *r, struct cerr *e)
{
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		const struct runopt_def *d = &runopt_defs[id];
		int rc;

		if (!runopt_has(r, id))
			continue;
		rc = runopt_is_str(id) ? check_str(d, r->s[id] ? r->s[id] : "", e)
				       : check_num(id, r->u[id], NULL, e);
		if (rc < 0)
			return cerr_wrap(e, "%s", d->name);
	}
	return 0;
}

const char *runopt_format(const struct runopts *r, unsigned id, char *buf,
			  size_t len)
{
	uint64_t v = r->u[id];

	switch (runopt_defs[id].type) {
	case RT_SIZE: return fmt_size(v, buf, len);
	case RT_CPUS: return fmt_cpus(v, buf, len);
	case RT_DURATION: return fmt_duration(v, buf, len);
	case RT_FLAG:
		snprintf(buf, len, "%s", v ? "yes" : "no");
		return buf;
	case RT_COUNT:
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	case RT_OCTAL:
		snprintf(buf, len, "%04" PRIo64, v);
		return buf;
	}
	snprintf(buf, len, "%s", r->s[id] ? r->s[id] : "");
	return buf;
}

const char *runopt_cgroup_value(const struct runopts *r, unsigned id,
				char *buf, size_t len)
{
	if (runopt_is_str(id))
		snprintf(buf, len, "%s", r->s[id] ? r->s[id] : "");
	else if (runopt_defs[id].type == RT_CPUS)
		snprintf(buf, len, "%" PRIu64 " %d", r->u[id], CPU_PERIOD_USEC);
	else
		snprintf(buf, len, "%" PRIu64, r->u[id]);
	return buf;
}

void runopts_put(struct wire_out *o, const struct runopts *r, unsigned scopes)
{
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		const struct runopt_def *d = &runopt_defs[id];

		if (!runopt_has(r, id) || !(d->scope & scopes))
			continue;
		if (runopt_is_str(id))
			wire_put_str(o, d->field, r->s[id] ? r->s[id] : "");
		else
			wire_put_u64(o, d->field, r->u[id]);
	}
	for (size_t i = 0; i < r->nio && i < IO_LIMIT_MAX; i++) {
		uint8_t b[IO_LIMIT_LEN];
		io_limit_encode(&r->io[i], b);
		wire_put_bytes(o, F_IO_LIMIT, b, sizeof b);
	}
}

void runopts_get(const struct wire_msg *m, struct runopts *r)
{
	memset(r, 0, sizeof *r);
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		const struct wire_val *v = wire_nth(m, runopt_defs[id].field, 0);

		if (!v)
			continue;
		r->set |= 1u << id;
		if (runopt_is_str(id))
			r->s[id] = (const char *)v->p;
		else
			r->u[id] = v->u;
	}
	/* the schemas cap the count at IO_LIMIT_MAX and each at 40 bytes */
	for (r->nio = 0; r->nio < IO_LIMIT_MAX; r->nio++) {
		const struct wire_val *v = wire_nth(m, F_IO_LIMIT, r->nio);
		if (!v || v->len != IO_LIMIT_LEN)
			break;
		io_limit_decode(v->p, &r->io[r->nio]);
	}
}

void io_limit_encode(const struct io_limit *l, uint8_t out[IO_LIMIT_LEN])
{
	le32_put(out, l->major);
	le32_put(out + 4, l->minor);
	le64_put(out + 8, l->rbps);
	le64_put(out + 16, l->wbps);
	le64_put(out + 24, l->riops);
	le64_put(out + 32, l->wiops);
}

void io_limit_decode(const uint8_t in[IO_LIMIT_LEN], struct io_limit *l)
{
	l->major = le32_get(in);
	l->minor = le32_get(in + 4);
	l->rbps = le64_get(in + 8);
	l->wbps = le64_get(in + 16);
	l->riops = le64_get(in + 24);
	l->wiops = le64_get(in + 32);
}
