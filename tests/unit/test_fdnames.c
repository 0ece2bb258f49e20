/* LISTEN_FDS / LISTEN_FDNAMES as systemd's fd store hands them back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fdnames.h"

#define ID "0f8fad5b-d9cb-469f-a165-70867728950e"

struct seen {
	unsigned n;
	struct fdname v[8];
	unsigned idx[8];
};

static int note(void *ctx, unsigned i, const struct fdname *n, struct cerr *e)
{
	struct seen *s = ctx;

	(void)e;
	if (s->n < 8) {
		s->idx[s->n] = i;
		s->v[s->n++] = *n;
	}
	return 0;
}

static void one(const char *name, enum fdname_kind kind, const char *id)
{
	struct fdname n;

	fdname_parse(name, strlen(name), &n);
	if (n.kind != kind)
		fail_msg("\"%s\": kind %d, want %d", name, n.kind, kind);
	assert_string_equal(n.job_id, id);
}

static void test_names(void **state)
{
	(void)state;
	one("helper", FDN_HELPER, "");
	one("out-" ID, FDN_OUT, ID);
	one("err-" ID, FDN_ERR, ID);
	one("tty-" ID, FDN_TTY, ID);
	one("in-" ID, FDN_BAD, "");
	one("out-" ID "x", FDN_BAD, "");
	one("out-0F8FAD5B-D9CB-469F-A165-70867728950E", FDN_BAD, "");
	one("out-../../../../../etc/passwd/xxxxxxxxxxxxx", FDN_BAD, "");
	one("helpers", FDN_BAD, "");
	one("", FDN_BAD, "");
}

static void test_format_round_trip(void **state)
{
	char buf[FDNAME_LEN_MAX + 1];
	enum fdname_kind k[] = { FDN_HELPER, FDN_OUT, FDN_ERR, FDN_TTY };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct fdname n;
		fdname_format(k[i], ID, buf);
		fdname_parse(buf, strlen(buf), &n);
		assert_int_equal(n.kind, k[i]);
	}
}

/* Order is systemd's, not ours; every fd gets exactly one call, by index. */
static void test_each(void **state)
{
	struct seen s = { 0 };
	struct cerr e = { 0 };

	(void)state;
	assert_int_equal(fdnames_each("4", "err-" ID ":helper::bogus:extra", note, &s, &e), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.v[0].kind, FDN_ERR);
	assert_int_equal(s.v[1].kind, FDN_HELPER);
	assert_int_equal(s.v[2].kind, FDN_BAD);	/* empty */
	assert_int_equal(s.v[3].kind, FDN_BAD);
	assert_int_equal(s.idx[3], 3);
	/* Fewer names than fds: the rest unnamed. */
	memset(&s, 0, sizeof s);
	assert_int_equal(fdnames_each("3", "helper", note, &s, &e), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0].kind, FDN_HELPER);
	assert_int_equal(s.v[1].kind, FDN_BAD);
	assert_int_equal(s.v[2].kind, FDN_BAD);
	memset(&s, 0, sizeof s);
	assert_int_equal(fdnames_each("2", NULL, note, &s, &e), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[1].kind, FDN_BAD);
}

static void test_long_name(void **state)
{
	char names[600];
	struct seen s = { 0 };
	struct cerr e = { 0 };

	(void)state;
	memset(names, 'a', sizeof names);
	memcpy(names + 300, ":helper", 8);
	assert_int_equal(fdnames_each("2", names, note, &s, &e), 0);
	assert_int_equal(s.v[0].kind, FDN_BAD);
	assert_int_equal(s.v[1].kind, FDN_HELPER);
}

static void bad_count(const char *c, int num)
{
	struct seen s = { 0 };
	struct cerr e = { 0 };

	if (fdnames_each(c, "helper", note, &s, &e) != -1)
		fail_msg("LISTEN_FDS \"%s\" accepted", c ? c : "(null)");
	assert_int_equal(e.num, num);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(e.msg, "LISTEN_FDS"));
}

static void test_bad_counts(void **state)
{
	(void)state;
	bad_count(NULL, EINVAL);
	bad_count("", EINVAL);
	bad_count("-1", EINVAL);
	bad_count(" 1", EINVAL);
	bad_count("1x", EINVAL);
	bad_count("99999999999999999999", EINVAL);
	bad_count("65537", ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_bad_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
