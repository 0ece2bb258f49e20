/* libFuzzer: LISTEN_FDS/LISTEN_FDNAMES (fdnames.c).  Input: the count,
 * a NUL, the names.  Checks: no fd index twice or out of range, every
 * accepted name a valid job id (or "helper") that formats back to
 * itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdnames.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	unsigned next, n;
};

static int check(void *ctx, unsigned i, const struct fdname *fdn, struct cerr *e)
{
	struct st *s = ctx;
	char buf[FDNAME_LEN_MAX + 1];
	struct fdname back;

	(void)e;
	if (i != s->next++ || i >= s->n)
		abort();
	if (fdn->kind == FDN_BAD)
		return 0;
	if (fdn->kind != FDN_HELPER && !job_id_valid(fdn->job_id))
		abort();
	fdname_format(fdn->kind, fdn->job_id, buf);
	fdname_parse(buf, strlen(buf), &back);
	if (back.kind != fdn->kind || strcmp(back.job_id, fdn->job_id))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	const char *names;
	struct st s = { 0 };
	struct cerr e = { 0 };

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	names = buf + strlen(buf) + 1;
	unsigned long n = strtoul(buf, NULL, 10);
	/* Keep each run short; the count's bound has its unit test. */
	if (n <= 4096) {
		s.n = (unsigned)n;
		if (fdnames_each(buf, names, check, &s, &e) == 0 && s.next != s.n)
			abort();
	}
	if (e.num && !e.msg[0])
		abort();
	free(buf);
	return 0;
}
