/* libFuzzer: conf_parse, with every value also run through the value
 * parsers, checking what each promises about what it accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "parse.h"
#include "proto.h"
#include "runopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	int last_line;
};

static void die(const char *what, const char *value)
{
	fprintf(stderr, "fuzz_conf: %s: \"%s\"\n", what, value);
	abort();
}

static void check_rejection(int rc, const struct cerr *e, const char *v)
{
	if (rc != -1 && rc != 0)
		die("parser returned neither 0 nor -1", v);
	if (rc < 0 && (!e->msg[0] || (e->num != EINVAL && e->num != ERANGE)))
		die("rejection without EINVAL/ERANGE and a message", v);
}

/* --network's value: a valid name, and an address only after '=', never
 * 0.0.0.0; whatever is accepted prints back as it was written. */
static void check_netref(const char *v)
{
	char name[NET_NAME_MAX + 1], back[NETREF_LEN_MAX + 32];
	struct cerr e = { 0 };
	uint32_t a = 1;
	int rc = parse_netref(v, name, &a, &e);

	check_rejection(rc, &e, v);
	if (rc < 0)
		return;
	if (!net_name_valid(name) || (strchr(v, '=') != NULL) != (a != 0))
		die("bad network reference accepted", v);
	if (a)
		snprintf(back, sizeof back, "%s=%u.%u.%u.%u", name, a >> 24,
			 (a >> 16) & 255, (a >> 8) & 255, a & 255);
	else
		snprintf(back, sizeof back, "%s", name);
	if (strcmp(back, v))
		die("network reference does not print back as written", v);
}

static void check_values(const char *v)
{
	struct cerr e = { 0 };
	uint64_t n = 0, plain = 0;
	bool b;
	int rc;

	rc = parse_size(v, &n, &e);
	check_rejection(rc, &e, v);
	if (rc == 0 && parse_u64(v, &plain, &e) == 0 && plain != n)
		die("a plain number is not that many bytes", v);
	check_rejection(parse_duration_ms(v, &n, &e), &e, v);
	check_rejection(parse_cpus(v, &n, &e), &e, v);
	/* Whatever a run option's parser accepts is within the table's
	 * bounds, so the wire will accept it too. */
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		struct runopts r = { 0 };
		rc = runopt_parse(&r, id, v, &e);
		check_rejection(rc, &e, v);
		if (rc == 0 && !runopt_is_str(id) &&
		    (r.u[id] < runopt_defs[id].min || r.u[id] > runopt_defs[id].max))
			die("run option outside its table bounds", v);
	}
	check_rejection(parse_bool(v, &b, &e), &e, v);
	if (job_id_valid(v) && strlen(v) != 36)
		die("job id of the wrong length", v);
	if (cpuset_valid(v) && (strlen(v) > CPUSET_LEN_MAX || strspn(v, "0123456789,-") != strlen(v)))
		die("bad cpuset accepted", v);
	check_netref(v);
}

static int on_key(void *ctx, const char *section, const char *key,
		  const char *value, int line, struct cerr *e)
{
	struct state *st = ctx;
	size_t vl = strlen(value);

	if (line <= st->last_line)
		die("line numbers went backwards", key);
	st->last_line = line;
	if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(key))
		die("bad key passed", key);
	/* "name" or "kind name": one space, between two names */
	size_t w = strspn(section, "abcdefghijklmnopqrstuvwxyz0123456789_-.");
	if (section[w] == ' ' && w > 0 && section[w + 1])
		w += 1 + strspn(section + w + 1, "abcdefghijklmnopqrstuvwxyz0123456789_-.");
	if (w != strlen(section))
		die("bad section passed", section);
	if (vl && (strchr(value, '\n') || vl > CONF_LINE_MAX ||
		   strchr(" \t\r", value[vl - 1]) || strchr(" \t", value[0])))
		die("value not trimmed to one line", value);
	check_values(value);
	if (!strcmp(key, "stop"))
		return cerr_set(e, EPERM, "line %d: stop", line);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { 0 };
	struct cerr e = { 0 };

	if (conf_parse((const char *)data, size, "fuzz.conf", on_key, &st, &e) < 0 &&
	    !e.msg[0])
		die("rejection without a message", "");
	return 0;
}
