/* LISTEN_FDNAMES, bounded: see fdnames.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fdnames.h"
#include "parse.h"

static const struct {
	const char *prefix;
	enum fdname_kind kind;
} job_kinds[] = {
	{ "out-", FDN_OUT },
	{ "err-", FDN_ERR },
	{ "tty-", FDN_TTY },
};
#define PREFIX_LEN 4

void fdname_parse(const char *name, size_t len, struct fdname *out)
{
	memset(out, 0, sizeof *out);
	out->kind = FDN_BAD;
	if (len == 6 && !memcmp(name, "helper", 6)) {
		out->kind = FDN_HELPER;
		return;
	}
	if (len != PREFIX_LEN + JOB_ID_LEN)
		return;
	for (size_t i = 0; i < sizeof job_kinds / sizeof job_kinds[0]; i++) {
		if (memcmp(name, job_kinds[i].prefix, PREFIX_LEN))
			continue;
		memcpy(out->job_id, name + PREFIX_LEN, JOB_ID_LEN);
		out->job_id[JOB_ID_LEN] = '\0';
		if (job_id_valid(out->job_id))
			out->kind = job_kinds[i].kind;
		else
			out->job_id[0] = '\0';
		return;
	}
}

void fdname_format(enum fdname_kind kind, const char *job_id, char *buf)
{
	for (size_t i = 0; i < sizeof job_kinds / sizeof job_kinds[0]; i++)
		if (job_kinds[i].kind == kind) {
			snprintf(buf, FDNAME_LEN_MAX + 1, "%s%.36s",
				 job_kinds[i].prefix, job_id);
			return;
		}
	snprintf(buf, FDNAME_LEN_MAX + 1, "helper");
}

static int parse_count(const char *s, unsigned *n, struct cerr *e)
{
	unsigned long v = 0;
	size_t len = s ? strlen(s) : 0;

	if (!len || len > 6 || strspn(s, "0123456789") != len)
		return cerr_set(e, EINVAL, "LISTEN_FDS \"%.16s\" is not a count", s ? s : "");
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v > FDSTORE_FDS_MAX)
		return cerr_set(e, ERANGE, "LISTEN_FDS %lu is more than %d", v, FDSTORE_FDS_MAX);
	*n = (unsigned)v;
	return 0;
}

int fdnames_each(const char *count, const char *names, fdnames_fn fn,
		 void *ctx, struct cerr *e)
{
	const char *p = names;
	unsigned n = 0;

	if (parse_count(count, &n, e) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct fdname fdn = { .kind = FDN_BAD };
		if (p) {
			const char *end = strchr(p, ':');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			if (len <= FDNAME_LEN_MAX)
				fdname_parse(p, len, &fdn);
			p = end ? end + 1 : NULL;
		}
		if (fn(ctx, i, &fdn, e) < 0)
			return -1;
	}
	return 0;
}
