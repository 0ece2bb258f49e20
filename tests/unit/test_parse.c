/* Value parsers: sizes, durations, CPUs, booleans, job ids, cpusets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "cleanup.h"
#include "parse.h"
#include "proto.h"

typedef int (*u64_parser)(const char *, uint64_t *, struct cerr *);

static void ok(u64_parser fn, const char *s, uint64_t want)
{
	struct cerr e = { 0 };
	uint64_t v = 12345;

	if (fn(s, &v, &e) < 0)
		fail_msg("\"%s\" rejected: %s", s, e.msg);
	if (v != want)
		fail_msg("\"%s\" gave %llu, want %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

/* Rejected with errno num, the value untouched, and the message quoting
 * the input so a person can find it. */
static void bad(u64_parser fn, const char *s, int num)
{
	struct cerr e = { 0 };
	uint64_t v = 12345;

	if (fn(s, &v, &e) != -1)
		fail_msg("\"%s\" accepted as %llu", s, (unsigned long long)v);
	assert_int_equal(v, 12345);
	if (e.num != num)
		fail_msg("\"%s\": errno %d (%s), want %d", s, e.num, e.msg, num);
	if (*s && !strstr(e.msg, s))
		fail_msg("\"%s\": message \"%s\" does not quote it", s, e.msg);
}

static void test_parse_u64(void **state)
{
	ok(parse_u64, "0", 0);
	ok(parse_u64, "42", 42);
	ok(parse_u64, "18446744073709551615", UINT64_MAX);
	bad(parse_u64, "18446744073709551616", ERANGE);
	bad(parse_u64, "99999999999999999999999", ERANGE);
	bad(parse_u64, "", EINVAL);
	bad(parse_u64, "-1", EINVAL);
	bad(parse_u64, "+1", EINVAL);
	bad(parse_u64, "1 ", EINVAL);
	bad(parse_u64, "0x10", EINVAL);
}

static void test_parse_size(void **state)
{
	ok(parse_size, "512", 512);
	ok(parse_size, "512B", 512);
	ok(parse_size, "512K", 512 * 1024);
	ok(parse_size, "512k", 512 * 1024);
	ok(parse_size, "1KB", 1024);
	ok(parse_size, "1.5G", 3ull << 29);
	ok(parse_size, "2MiB", 2ull << 20);
	ok(parse_size, "1M", 1ull << 20);
	ok(parse_size, "1T", 1ull << 40);
	ok(parse_size, "0.5K", 512);
	ok(parse_size, "0", 0);
	ok(parse_size, "0G", 0);
	ok(parse_size, "18446744073709551615", UINT64_MAX);
	ok(parse_size, "16777215T", UINT64_MAX - (1ull << 40) + 1);
	bad(parse_size, "16777216T", ERANGE);
	bad(parse_size, "17179869184G", ERANGE);
	bad(parse_size, "1.5", EINVAL);		/* fractional bytes */
	bad(parse_size, "1.5B", EINVAL);
	bad(parse_size, "", EINVAL);
	bad(parse_size, "K", EINVAL);
	bad(parse_size, "abc", EINVAL);
	bad(parse_size, "12X", EINVAL);
	bad(parse_size, "1 K", EINVAL);
	bad(parse_size, " 1K", EINVAL);
	bad(parse_size, "-1K", EINVAL);
	bad(parse_size, "1.5.5K", EINVAL);
	bad(parse_size, "1KK", EINVAL);
}

static void test_parse_size_overflow_digits(void **state)
{
	struct cerr e = { 0 };
	uint64_t v = 7;

	/* More digits than fit: refused (the errno may be either kind), and
	 * the value untouched. */
	assert_int_equal(parse_size("18446744073709551616", &v, &e), -1);
	assert_non_null(strstr(e.msg, "18446744073709551616"));
	assert_int_equal(parse_size("99999999999999999999999K", &v, &e), -1);
	assert_int_equal(v, 7);
}

static void test_parse_duration(void **state)
{
	ok(parse_duration_ms, "250ms", 250);
	ok(parse_duration_ms, "10s", 10000);
	ok(parse_duration_ms, "10", 10000);
	ok(parse_duration_ms, "1.5m", 90000);
	ok(parse_duration_ms, "5min", 300000);
	ok(parse_duration_ms, "2h", 7200000);
	ok(parse_duration_ms, "1d", 86400000);
	ok(parse_duration_ms, "0.25s", 250);
	ok(parse_duration_ms, "0", 0);
	ok(parse_duration_ms, "213503982334d", 213503982334ull * 86400000);
	bad(parse_duration_ms, "213503982335d", ERANGE);
	bad(parse_duration_ms, "", EINVAL);
	bad(parse_duration_ms, "ms", EINVAL);
	bad(parse_duration_ms, "10x", EINVAL);
	bad(parse_duration_ms, "10 s", EINVAL);
	bad(parse_duration_ms, "-1s", EINVAL);
	bad(parse_duration_ms, "1.5.s", EINVAL);
	bad(parse_duration_ms, "1S", EINVAL);
	ok(parse_duration_ms, "1h30m", 5400000);
	ok(parse_duration_ms, "2m30s", 150000);
	ok(parse_duration_ms, "1d2h", 93600000);
	ok(parse_duration_ms, "1m500ms", 60500);
	bad(parse_duration_ms, "1h30", EINVAL);	/* a bare number only alone */
	bad(parse_duration_ms, "h", EINVAL);
	bad(parse_duration_ms, "1x30m", EINVAL);
}

static void test_parse_cpus(void **state)
{
	ok(parse_cpus, "1.5", 150000);
	ok(parse_cpus, "0.2", 20000);
	ok(parse_cpus, "1", CPU_PERIOD_USEC);
	ok(parse_cpus, "2.125", 212500);
	ok(parse_cpus, "0.01", 1000);
	ok(parse_cpus, "1024", 1024ull * CPU_PERIOD_USEC);
	/* The bounds are the run-option table's (test_runopt.c). */
	ok(parse_cpus, "0.001", 100);
	bad(parse_cpus, "0.0001", EINVAL);	/* 4 decimals */
	bad(parse_cpus, "1.2345", EINVAL);
	bad(parse_cpus, "", EINVAL);
	bad(parse_cpus, "abc", EINVAL);
	bad(parse_cpus, "1.5x", EINVAL);
	bad(parse_cpus, "-1", EINVAL);
	bad(parse_cpus, "1,5", EINVAL);
}

static void bool_case(const char *s, int want)
{
	struct cerr e = { 0 };
	bool v = want != 1;

	if (want < 0) {
		assert_int_equal(parse_bool(s, &v, &e), -1);
		assert_int_equal(e.num, EINVAL);
		assert_non_null(strstr(e.msg, s));
		return;
	}
	assert_int_equal(parse_bool(s, &v, &e), 0);
	assert_int_equal(v, want);
}

static void test_parse_bool(void **state)
{
	bool_case("yes", 1);
	bool_case("true", 1);
	bool_case("1", 1);
	bool_case("no", 0);
	bool_case("false", 0);
	bool_case("0", 0);
	bool_case("YES", -1);
	bool_case("y", -1);
	bool_case("2", -1);
	bool_case("", -1);
	bool_case("yes ", -1);
}

static void test_job_id(void **state)
{
	const char *good = "0123abcd-4567-89ef-0123-456789abcdef";
	char s[40];

	assert_true(job_id_valid(good));
	assert_true(job_id_valid("00000000-0000-0000-0000-000000000000"));
	assert_false(job_id_valid("0123ABCD-4567-89EF-0123-456789ABCDEF"));
	assert_false(job_id_valid("0123abcd-4567-89ef-0123-456789abcdeF"));
	assert_false(job_id_valid("../"));
	assert_false(job_id_valid("/"));
	assert_false(job_id_valid("../../../../../../../../../etc/passw"));
	assert_false(job_id_valid("0123abcd-4567-89ef-0123-456789abcde"));	/* 35 */
	assert_false(job_id_valid("0123abcd-4567-89ef-0123-456789abcdef0"));	/* 37 */
	assert_false(job_id_valid("0123abcd04567089ef001230456789abcdef"));	/* no dashes */
	assert_false(job_id_valid("0123abcd-4567-89ef-0123-456789abcd/f"));
	assert_false(job_id_valid("0123abcg-4567-89ef-0123-456789abcdef"));
	assert_false(job_id_valid(""));
	assert_false(job_id_valid(NULL));
	/* each dash is needed in its place */
	for (int i = 0; i < 36; i++) {
		if (good[i] != '-')
			continue;
		memcpy(s, good, 37);
		s[i] = 'a';
		assert_false(job_id_valid(s));
		s[i] = '-';
		s[i == 8 ? 9 : i - 1] = '-';
		assert_false(job_id_valid(s));
	}
}

static void test_cpuset(void **state)
{
	char s[300];

	assert_true(cpuset_valid("0"));
	assert_true(cpuset_valid("0-3,5,7-8"));
	memset(s, '1', 256);
	s[256] = '\0';
	assert_true(cpuset_valid(s));
	s[256] = '1';
	s[257] = '\0';
	assert_false(cpuset_valid(s));
	assert_false(cpuset_valid(""));
	assert_false(cpuset_valid(NULL));
	assert_false(cpuset_valid("0 1"));
	assert_false(cpuset_valid("a"));
	assert_false(cpuset_valid("0-1\n"));
	assert_false(cpuset_valid("../x"));
}

static void test_env_name(void **state)
{
	static const char *const good[] = { "A", "_", "PATH", "LC_ALL", "a1_b2", "_9" };
	static const char *const bad[] = { "", "1A", "A B", "A-B", "A.B", "=", "\xc3\xa9", "A\n" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_true(env_name_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_false(env_name_valid(bad[i], strlen(bad[i])));
	/* n bytes only: the name before '=' */
	assert_true(env_name_valid("A=B C", 1));
	assert_false(env_name_valid("A B=1", 3));
	/* a NUL inside n is no name */
	assert_false(env_name_valid("AB\0C", 4));
}

static void test_parse_signal(void **state)
{
	static const struct { const char *s; int sig; } good[] = {
		{ "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "term", SIGTERM },
		{ "usr1", SIGUSR1 }, { "SigHup", SIGHUP }, { "9", 9 }, { "64", 64 },
		{ "1", 1 }, { "INT", SIGINT }, { "CONT", SIGCONT },
	};
	static const char *const bad[] = {
		"", "0", "65", "TERMX", "SIG", "-15", "15x", "SIGSIGTERM",
		"RTMIN+99", "RTMAX+1", "RTMIN-1", "RTFOO", "99999999999999999999",
	};
	struct cerr e;
	int sig;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		sig = -1;
		assert_int_equal(parse_signal(good[i].s, &sig, &e), 0);
		assert_int_equal(sig, good[i].sig);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_signal(bad[i], &sig, &e), -1);
	assert_int_equal(parse_signal("RTMIN", &sig, &e), 0);
	assert_int_equal(sig, SIGRTMIN);
	assert_int_equal(parse_signal("SIGRTMIN+2", &sig, &e), 0);
	assert_int_equal(sig, SIGRTMIN + 2);
	assert_int_equal(parse_signal("rtmax-1", &sig, &e), 0);
	assert_int_equal(sig, SIGRTMAX - 1);
	assert_int_equal(parse_signal(NULL, &sig, &e), -1);
	/* the message names what was typed */
	parse_signal("TERMX", &sig, &e);
	assert_non_null(strstr(e.msg, "\"TERMX\" is not a signal"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_size_overflow_digits),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_cpus),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_job_id),
		cmocka_unit_test(test_cpuset),
		cmocka_unit_test(test_env_name),
		cmocka_unit_test(test_parse_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
