/* The run-option table (common/runopt.def) and the code its types share. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "proto.h"
#include "runopt.h"

static const struct {
	const char *id, *name;
	uint16_t field;
} rows[] = {
#define OPT(ID, field, name, ...) { #ID, name, field },
#include "runopt.def"
#undef OPT
};

/* One name per option: its C id is its name in upper case, and no two
 * rows share a name, a flag, a policy key or a wire field. */
static void test_table_names(void **state)
{
	assert_int_equal(sizeof rows / sizeof rows[0], OPT_COUNT);
	for (unsigned i = 0; i < OPT_COUNT; i++) {
		const struct runopt_def *d = &runopt_defs[i];
		char lower[64];
		size_t n = strlen(rows[i].id);

		assert_true(n < sizeof lower);
		for (size_t k = 0; k <= n; k++)
			lower[k] = (char)tolower((unsigned char)rows[i].id[k]);
		assert_string_equal(lower, d->name);
		assert_int_equal(rows[i].field, d->field);
		assert_true(d->min <= d->max);
		assert_true(d->max <= WIRE_U63_MAX);
		assert_true((d->cgfile == NULL) == (d->ctrl == 0));
		assert_true(d->help && d->help[0] && d->flag && d->meta);
		for (unsigned j = 0; j < i; j++) {
			const struct runopt_def *o = &runopt_defs[j];
			assert_string_not_equal(d->name, o->name);
			assert_string_not_equal(d->flag, o->flag);
			assert_int_not_equal(d->field, o->field);
			if (d->policy && o->policy)
				assert_string_not_equal(d->policy, o->policy);
		}
	}
}

static void parse_err(unsigned id, const char *text, const char *needle)
{
	struct runopts r = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(runopt_parse(&r, id, text, &e), -1);
	if (!strstr(e.msg, needle))
		fail_msg("%s \"%s\": \"%s\" lacks \"%s\"", runopt_defs[id].name,
			 text, e.msg, needle);
	assert_false(runopt_has(&r, id));
}

static void test_parse_bounds(void **state)
{
	struct runopts r = { 0 };
	struct cerr e = { 0 };
	char b[64];

	assert_int_equal(runopt_parse(&r, OPT_MEMORY_MAX, "4K", &e), 0);
	assert_int_equal(r.u[OPT_MEMORY_MAX], 4096);
	parse_err(OPT_MEMORY_MAX, "4095", "\"4095\" is below the minimum of 4 KiB");
	parse_err(OPT_CPU_QUOTA_USEC, "0.009", "\"0.009\" is below the minimum of 0.01");
	parse_err(OPT_CPU_QUOTA_USEC, "1025", "\"1025\" is above the maximum of 1024");
	parse_err(OPT_CPU_QUOTA_USEC, "0", "\"0\" is below the minimum of 0.01");
	parse_err(OPT_CPU_QUOTA_USEC, "1024.5", "is above the maximum of 1024");
	assert_int_equal(runopt_parse(&r, OPT_CPU_QUOTA_USEC, "1024", &e), 0);
	parse_err(OPT_PIDS_MAX, "0", "\"0\" is below the minimum of 1");
	parse_err(OPT_PIDS_MAX, "4194305", "is above the maximum of 4194304");
	parse_err(OPT_TIMEOUT_MS, "367d", "\"367d\" is above the maximum of 366d00h00m");
	parse_err(OPT_CPUSET_CPUS, "0-1;3", "is not a list");
	parse_err(OPT_NAME, "0123abcd-4567-89ef-0123-456789abcdef", "not a job id");
	parse_err(OPT_NAME, "-x", "not first");
	assert_int_equal(runopt_parse(&r, OPT_NAME, "cafe", &e), 0);
	assert_int_equal(runopt_parse(&r, OPT_NAME, "2024", &e), 0);
	parse_err(OPT_ROOTFS, "srv/x", "not an absolute path");
	assert_int_equal(runopt_parse(&r, OPT_CPUSET_CPUS, "0-1,3", &e), 0);
	assert_string_equal(runopt_format(&r, OPT_CPUSET_CPUS, b, sizeof b), "0-1,3");
	/* the soft controls */
	parse_err(OPT_CPU_WEIGHT, "0", "\"0\" is below the minimum of 1");
	parse_err(OPT_CPU_WEIGHT, "10001", "\"10001\" is above the maximum of 10000");
	parse_err(OPT_IO_WEIGHT, "10001", "\"10001\" is above the maximum of 10000");
	parse_err(OPT_MEMORY_HIGH, "1K", "\"1K\" is below the minimum of 4 KiB");
	assert_int_equal(runopt_parse(&r, OPT_CPU_WEIGHT, "300", &e), 0);
	assert_int_equal(runopt_parse(&r, OPT_NAME, "build-7", &e), 0);
	assert_true(runopt_has(&r, OPT_NAME));
}

/* --umask: octal in, octal out, within 0 to 0777. */
static void test_octal(void **state)
{
	static const struct { const char *in, *shown; uint64_t v; } good[] = {
		{ "077", "0077", 077 }, { "0", "0000", 0 }, { "0777", "0777", 0777 },
	};
	static const struct { const char *in, *why; } bad[] = {
		{ "8", "\"8\" is not an octal number" }, { "-1", "is not an octal number" },
		{ "1000", "\"1000\" is above the maximum of 0777" },
		{ "77777777777777777777777", "is too large" }, { "", "empty octal number" },
	};
	struct runopts r = { 0 };
	struct cerr e = { 0 };
	char b[64];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(runopt_parse(&r, OPT_UMASK, good[i].in, &e), 0);
		assert_int_equal(r.u[OPT_UMASK], good[i].v);
		assert_string_equal(runopt_format(&r, OPT_UMASK, b, sizeof b), good[i].shown);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		parse_err(OPT_UMASK, bad[i].in, bad[i].why);
}

static void test_cgroup_values(void **state)
{
	struct runopts r = { 0 };
	struct cerr e = { 0 };
	char b[64];

	assert_int_equal(runopt_parse(&r, OPT_CPU_QUOTA_USEC, "1.5", &e), 0);
	assert_string_equal(runopt_cgroup_value(&r, OPT_CPU_QUOTA_USEC, b, sizeof b),
			    "150000 100000");
	assert_string_equal(runopt_format(&r, OPT_CPU_QUOTA_USEC, b, sizeof b), "1.5");
	assert_int_equal(runopt_parse(&r, OPT_MEMORY_MAX, "512M", &e), 0);
	assert_string_equal(runopt_cgroup_value(&r, OPT_MEMORY_MAX, b, sizeof b),
			    "536870912");
	assert_string_equal(runopt_format(&r, OPT_MEMORY_MAX, b, sizeof b), "512 MiB");
	assert_int_equal(runopt_parse(&r, OPT_MEMORY_HIGH, "256M", &e), 0);
	assert_string_equal(runopt_cgroup_value(&r, OPT_MEMORY_HIGH, b, sizeof b),
			    "268435456");
	assert_int_equal(runopt_parse(&r, OPT_IO_WEIGHT, "50", &e), 0);
	assert_string_equal(runopt_cgroup_value(&r, OPT_IO_WEIGHT, b, sizeof b), "50");
	assert_string_equal(runopt_defs[OPT_IO_WEIGHT].cgfile, "io.weight");
	assert_int_equal(runopt_defs[OPT_CPU_WEIGHT].ctrl, CTRL_CPU);
}

/* What one side puts, the other takes back, scope by scope. */
static void test_wire_roundtrip(void **state)
{
	struct runopts in = { 0 }, out;
	struct wire_out o;
	struct wire_msg m;
	struct cerr e = { 0 };

	assert_int_equal(runopt_parse(&in, OPT_MEMORY_MAX, "1G", &e), 0);
	assert_int_equal(runopt_parse(&in, OPT_CPUSET_MEMS, "0", &e), 0);
	assert_int_equal(runopt_parse(&in, OPT_TIMEOUT_MS, "5m", &e), 0);
	in.io[0] = (struct io_limit){ 8, 0, 1 << 20, 0, 0, 7 };
	in.nio = 1;
	wire_out_init(&o, &proto_helper_req, H_START);
	wire_put_str(&o, F_JOB_ID, "0123abcd-4567-89ef-0123-456789abcdef");
	wire_put_u32(&o, F_UID, 1000);
	wire_put_str(&o, F_ARGV, "true");
	wire_put_str(&o, F_CWD, "/");
	wire_put_fd(&o, 0);
	wire_put_fd(&o, 1);
	runopts_put(&o, &in, SC_JOB);	/* timeout is corrald's: not sent */
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_decode(&proto_helper_req, o.buf, o.len, &m, &e), 0);
	runopts_get(&m, &out);
	assert_int_equal(out.set, (1u << OPT_MEMORY_MAX) | (1u << OPT_CPUSET_MEMS));
	assert_int_equal(out.u[OPT_MEMORY_MAX], 1u << 30);
	assert_string_equal(out.s[OPT_CPUSET_MEMS], "0");
	assert_int_equal(out.nio, 1);
	assert_int_equal(out.io[0].wiops, 7);
	wire_msg_free(&m);
	wire_out_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_octal),
		cmocka_unit_test(test_cgroup_values),
		cmocka_unit_test(test_wire_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

