/* Unit tests of the CLI's value parsing and output formatting
 * (client/clifmt.c), and of libcorral's ssh:// URLs and ssh command. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "clifmt.h"
#include "table.h"
#include "libcorral.h"

/* A resolver that knows two made-up disks, so tests do not depend on the
 * machine's devices. */
static int fake_resolve(const char *dev, uint32_t *major, uint32_t *minor,
			struct cerr *e)
{
	if (!strcmp(dev, "vda") || !strcmp(dev, "/dev/vda")) {
		*major = 253;
		*minor = 0;
		return 0;
	}
	if (!strcmp(dev, "sdb")) {
		*major = 8;
		*minor = 16;
		return 0;
	}
	return cerr_set(e, ENOENT, "/dev/%s: No such file or directory", dev);
}

static void test_io_name_and_size(void **state)
{
	struct runopts l = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(io_spec_merge(&l, "--io-read-bps", IO_RBPS, "vda=1M",
				       fake_resolve, &e), 0);
	assert_int_equal(l.nio, 1);
	assert_int_equal(l.io[0].major, 253);
	assert_int_equal(l.io[0].minor, 0);
	assert_int_equal(l.io[0].rbps, 1048576);
	assert_int_equal(l.io[0].wbps, 0);
	assert_int_equal(l.io[0].riops, 0);
}

static void test_io_majmin(void **state)
{
	struct runopts l = { 0 };
	struct cerr e = { 0 };

	/* MAJ:MIN never reaches the resolver (fake would refuse "8:0") */
	assert_int_equal(io_spec_merge(&l, "--io-write-iops", IO_WIOPS, "8:0=10",
				       fake_resolve, &e), 0);
	assert_int_equal(l.nio, 1);
	assert_int_equal(l.io[0].major, 8);
	assert_int_equal(l.io[0].minor, 0);
	assert_int_equal(l.io[0].wiops, 10);
	assert_int_equal(l.io[0].wbps, 0);
}

static void test_io_merge(void **state)
{
	struct runopts l = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(io_spec_merge(&l, "--io-read-bps", IO_RBPS, "vda=1M", fake_resolve, &e), 0);
	assert_int_equal(io_spec_merge(&l, "--io-write-bps", IO_WBPS, "/dev/vda=2K", fake_resolve, &e), 0);
	assert_int_equal(io_spec_merge(&l, "--io-read-iops", IO_RIOPS, "253:0=50", fake_resolve, &e), 0);
	assert_int_equal(io_spec_merge(&l, "--io-write-iops", IO_WIOPS, "sdb=7", fake_resolve, &e), 0);
	/* a later flag for the same field overrides */
	assert_int_equal(io_spec_merge(&l, "--io-read-bps", IO_RBPS, "vda=3M", fake_resolve, &e), 0);
	assert_int_equal(l.nio, 2);
	assert_int_equal(l.io[0].major, 253);
	assert_int_equal(l.io[0].rbps, 3u << 20);
	assert_int_equal(l.io[0].wbps, 2048);
	assert_int_equal(l.io[0].riops, 50);
	assert_int_equal(l.io[0].wiops, 0);
	assert_int_equal(l.io[1].major, 8);
	assert_int_equal(l.io[1].minor, 16);
	assert_int_equal(l.io[1].wiops, 7);
}

static void test_io_too_many_devices(void **state)
{
	struct runopts l = { 0 };
	struct cerr e = { 0 };
	char spec[32];

	for (int i = 0; i < IO_LIMIT_MAX; i++) {
		snprintf(spec, sizeof spec, "8:%d=1", i);
		assert_int_equal(io_spec_merge(&l, "--io-read-iops", IO_RIOPS, spec, fake_resolve, &e), 0);
	}
	assert_int_equal(io_spec_merge(&l, "--io-read-iops", IO_RIOPS, "9:0=1", fake_resolve, &e), -1);
	assert_non_null(strstr(e.msg, "more than"));
	/* an existing device can still be updated */
	assert_int_equal(io_spec_merge(&l, "--io-read-iops", IO_RIOPS, "8:3=9", fake_resolve, &e), 0);
	assert_int_equal(l.io[3].riops, 9);
	assert_int_equal(l.nio, IO_LIMIT_MAX);
}

static void expect_io_error(const char *spec, enum io_kind kind,
			    const char *needle)
{
	struct runopts l = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(io_spec_merge(&l, "--io-read-bps", kind, spec, fake_resolve, &e), -1);
	assert_non_null(strstr(e.msg, "--io-read-bps"));
	if (!strstr(e.msg, needle))
		fail_msg("error for \"%s\" is \"%s\", wanted \"%s\" in it", spec, e.msg, needle);
	assert_int_equal(l.nio, 0);
}

static void test_io_bad_forms(void **state)
{
	expect_io_error("vda", IO_RBPS, "DEV=VALUE");
	expect_io_error("=1M", IO_RBPS, "DEV=VALUE");
	expect_io_error("vda=", IO_RBPS, "DEV=VALUE");
	expect_io_error("vda=12Q", IO_RBPS, "12Q");
	expect_io_error("vda=0", IO_RBPS, "0 is not allowed");
	expect_io_error("vda=1M", IO_RIOPS, "1M");	/* iops take no suffix */
	expect_io_error("nosuch=1M", IO_RBPS, "nosuch");
	expect_io_error("8:99999999=1", IO_RBPS, "out of range");
}

static void test_io_real_resolver(void **state)
{
	uint32_t ma, mi;
	struct cerr e = { 0 };

	assert_int_equal(io_resolve_dev("/dev/null", &ma, &mi, &e), -1);
	assert_non_null(strstr(e.msg, "not a block device"));
	assert_int_equal(io_resolve_dev("corral-no-such-disk", &ma, &mi, &e), -1);
	assert_non_null(strstr(e.msg, "/dev/corral-no-such-disk"));
	assert_int_equal(io_resolve_dev("../etc/passwd", &ma, &mi, &e), -1);
}

/* --- JSON ---------------------------------------------------------------- */

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	json_str(f, s);
	fclose(f);
	return buf;
}

static void expect_json(const char *in, const char *want)
{
	char *got = json_of(in);

	if (strcmp(got, want))
		fail_msg("json_str gave %s, wanted %s", got, want);
	free(got);
}

static void test_json_escape(void **state)
{
	expect_json("plain", "\"plain\"");
	expect_json("", "\"\"");
	expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect_json("l1\nl2\tx\r", "\"l1\\nl2\\tx\\r\"");
	expect_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	expect_json("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
	/* invalid UTF-8: stray continuation, truncated, overlong, surrogate */
	expect_json("a\x80z", "\"a\\ufffdz\"");
	expect_json("a\xc3", "\"a\\ufffd\"");
	expect_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	/* C1 controls, line/paragraph separators and bidi overrides are
	 * valid UTF-8 but escaped, so the JSON is safe on a terminal and in
	 * JavaScript. */
	expect_json("a\xc2\x9b" "31m", "\"a\\u009b31m\"");
	expect_json("\xc2\x80\xc2\x9f", "\"\\u0080\\u009f\"");
	expect_json("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"");
	expect_json("x\xe2\x80\xaey\xe2\x81\xa6z", "\"x\\u202ey\\u2066z\"");
}

static void test_json_job(void **state)
{
	const char *argv[] = { "sh", "-c", "echo \"hi\"" };
	const char *env[] = { "PATH=/bin" };
	struct corral_job j = {
		.id = "0123abcd-0000-4000-8000-000000000000",
		.uid = 1000, .user = "alice", .state = "killed",
		.argv = argv, .argc = 3, .env = env, .nenv = 1, .cwd = "/tmp",
		.ns_off = NS_NET | NS_IPC,
		.has_signal = true, .signal = 9, .created_ms = 1700000000000ull,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	struct cerr e;
	assert_int_equal(runopt_parse(&j.opt, OPT_MEMORY_MAX, "512M", &e), 0);
	assert_int_equal(runopt_parse(&j.opt, OPT_CPU_QUOTA_USEC, "1.5", &e), 0);
	json_job(f, &j);
	fclose(f);
	assert_non_null(strstr(buf, "\"id\":\"0123abcd-0000-4000-8000-000000000000\""));
	assert_non_null(strstr(buf, "\"argv\":[\"sh\",\"-c\",\"echo \\\"hi\\\"\"]"));
	assert_non_null(strstr(buf, "\"memory_max\":536870912"));
	assert_non_null(strstr(buf, "\"cpu_quota_usec\":150000"));
	assert_non_null(strstr(buf, "\"signal\":9,\"signal_name\":\"SIGKILL\""));
	assert_non_null(strstr(buf, "\"namespaces\":{\"net\":false,\"pid\":true,\"mount\":true,\"uts\":true,\"ipc\":false}"));
	/* absent fields are omitted, not null or zero */
	assert_null(strstr(buf, "exit_code"));
	assert_null(strstr(buf, "rootfs"));
	assert_null(strstr(buf, "\"name\""));
	assert_int_equal(buf[0], '{');
	assert_int_equal(buf[len - 1], '}');
	free(buf);
}

/* --- exit status ----------------------------------------------------------- */

static int status_of(const char *st, int code, int sig, unsigned stage,
		     int err)
{
	struct corral_job j = { .state = st, .stage = stage, .err = (uint32_t)err,
				.has_errno = err != 0 };

	if (code >= 0) {
		j.has_exit_code = true;
		j.exit_code = (uint32_t)code;
	}
	if (sig > 0) {
		j.has_signal = true;
		j.signal = (uint32_t)sig;
	}
	return job_exit_status(&j);
}

static void test_exit_mapping(void **state)
{
	assert_int_equal(status_of("exited", 0, 0, STAGE_NONE, 0), 0);
	assert_int_equal(status_of("exited", 3, 0, STAGE_NONE, 0), 3);
	assert_int_equal(status_of("exited", 255, 0, STAGE_NONE, 0), 255);
	assert_int_equal(status_of("killed", -1, 9, STAGE_NONE, 0), 137);
	assert_int_equal(status_of("oom", -1, 9, STAGE_NONE, 0), 137);
	assert_int_equal(status_of("stopped", -1, 15, STAGE_NONE, 0), 143);
	/* a job that caught SIGTERM and exited by itself */
	assert_int_equal(status_of("stopped", 4, 0, STAGE_NONE, 0), 4);
	/* timeout(1)'s 124, whether TERM ended it or it exited itself */
	assert_int_equal(status_of("timed_out", -1, 15, STAGE_NONE, 0), EXIT_TIMEDOUT);
	assert_int_equal(status_of("timed_out", 0, 0, STAGE_NONE, 0), 124);
	assert_int_equal(status_of("timed_out", -1, 9, STAGE_NONE, 0), 124);
	assert_int_equal(status_of("failed", -1, 0, STAGE_JOB_EXEC, ENOENT), EXIT_NOTFOUND);
	assert_int_equal(status_of("failed", -1, 0, STAGE_JOB_EXEC, EACCES), EXIT_NOSTART);
	assert_int_equal(status_of("failed", -1, 0, STAGE_CGROUP, ENOENT), EXIT_NOSTART);
	/* the decision is the fields', never the message's */
	assert_int_equal(status_of("failed", -1, 0, STAGE_JOB_EXEC, 0), EXIT_NOSTART);
	assert_int_equal(status_of("lost", -1, 0, STAGE_NONE, 0), EXIT_CORRAL);
	assert_int_equal(status_of("running", -1, 0, STAGE_NONE, 0), EXIT_CORRAL);
	assert_int_equal(status_of("exited", -1, 0, STAGE_NONE, 0), EXIT_CORRAL);
}

static void test_run_error_mapping(void **state)
{
	struct cerr e = { 0 };

	cerr_set(&e, ENOENT, "start failed at stage job-exec: nosuchcmd: No such file or directory");
	assert_int_equal(run_error_status(STAGE_JOB_EXEC, &e), 127);
	cerr_set(&e, EACCES, "start failed at stage job-exec: Permission denied");
	assert_int_equal(run_error_status(STAGE_JOB_EXEC, &e), 126);
	cerr_set(&e, EPERM, "start failed at stage policy: rootfs not allowed");
	assert_int_equal(run_error_status(STAGE_POLICY, &e), 126);
	cerr_set(&e, EACCES, "not in group corral");
	assert_int_equal(run_error_status(STAGE_NONE, &e), 125);
	/* text that looks like a stage does not make one */
	cerr_set(&e, ENOENT, "no such job: stage job-exec");
	assert_int_equal(run_error_status(STAGE_NONE, &e), 125);
}

/* --- humanizing -------------------------------------------------------------- */

static void test_fmt_size(void **state)
{
	char b[32];

	assert_string_equal(fmt_size(0, b, sizeof b), "0 B");
	assert_string_equal(fmt_size(1023, b, sizeof b), "1023 B");
	assert_string_equal(fmt_size(1024, b, sizeof b), "1 KiB");
	assert_string_equal(fmt_size(536870912, b, sizeof b), "512 MiB");
	assert_string_equal(fmt_size(1610612736, b, sizeof b), "1.5 GiB");
	assert_string_equal(fmt_size(1ull << 40, b, sizeof b), "1 TiB");
	assert_string_equal(fmt_size(UINT64_MAX, b, sizeof b), "16.0 EiB");
}

static void test_fmt_duration(void **state)
{
	char b[32];

	assert_string_equal(fmt_duration(0, b, sizeof b), "0ms");
	assert_string_equal(fmt_duration(250, b, sizeof b), "250ms");
	assert_string_equal(fmt_duration(12345, b, sizeof b), "12.345s");
	assert_string_equal(fmt_duration(185000, b, sizeof b), "3m05s");
	assert_string_equal(fmt_duration(7384000, b, sizeof b), "2h03m04s");
	assert_string_equal(fmt_duration(93780000, b, sizeof b), "1d02h03m");
}

static void test_fmt_numbers(void **state)
{
	char b[32];

	assert_string_equal(fmt_cpus(150000, b, sizeof b), "1.5");
	assert_string_equal(fmt_cpus(100000, b, sizeof b), "1");
	assert_string_equal(fmt_cpus(1000, b, sizeof b), "0.01");
	assert_string_equal(fmt_cpus(1250, b, sizeof b), "0.013");
	assert_string_equal(fmt_cpus(225000, b, sizeof b), "2.25");
	assert_string_equal(fmt_cpu_seconds(1234567, b, sizeof b), "1.235");
	assert_string_equal(fmt_cpu_seconds(0, b, sizeof b), "0.000");
	assert_string_equal(fmt_cpu_seconds(61000000, b, sizeof b), "61.000");
	assert_string_equal(fmt_signal(9, b, sizeof b), "SIGKILL");
	assert_string_equal(fmt_signal(15, b, sizeof b), "SIGTERM");
	assert_string_equal(fmt_time_ms(0, b, sizeof b), "-");
}

static void test_fmt_time(void **state)
{
	char b[32];

	setenv("TZ", "UTC", 1);
	assert_string_equal(fmt_time_ms(1700000000123ull, b, sizeof b),
			    "2023-11-14 22:13:20");
}

static void test_fmt_command(void **state)
{
	const char *argv[] = { "python3", "-c", "print(1)" };
	const char *shc[] = { "sh", "-c", "echo hi" };
	const char *ctl[] = { "a\nb\x1b" };
	const char *lng[] = { "abcdefghijklmnopqrstuvwxyz" };
	const char *quote[] = { "it's", "" };
	const char *c1raw[] = { "printf", "\x9b" "31m" };
	const char *c1utf[] = { "\xc2\x9b" };
	const char *bidi[] = { "ls", "a\xe2\x80\xae" "b" };
	const char *mixed[] = { "a\tb'c\\d" };
	const char *utf[] = { "caf\xc3\xa9" };
	const char *nl[] = { "\n\n\n\n\n\n" };
	const char *ee[] = { "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" };
	char b[64];

	/* argv is shown so that it can be pasted back into a shell */
	assert_string_equal(fmt_command(argv, 3, 40, b, sizeof b), "python3 -c 'print(1)'");
	assert_string_equal(fmt_command(shc, 3, 40, b, sizeof b), "sh -c 'echo hi'");
	assert_string_equal(fmt_command(quote, 2, 40, b, sizeof b), "'it'\\''s' ''");
	assert_string_equal(fmt_command(utf, 1, 40, b, sizeof b), "'caf\xc3\xa9'");
	/* control characters, C1 controls (raw or UTF-8) and bidi overrides
	 * are escaped in $'...', never passed to the terminal or dropped */
	assert_string_equal(fmt_command(ctl, 1, 40, b, sizeof b), "$'a\\nb\\x1b'");
	assert_string_equal(fmt_command(c1raw, 2, 40, b, sizeof b), "printf $'\\x9b31m'");
	assert_string_equal(fmt_command(c1utf, 1, 40, b, sizeof b), "$'\\u009b'");
	assert_string_equal(fmt_command(bidi, 2, 40, b, sizeof b), "ls $'a\\u202eb'");
	assert_string_equal(fmt_command(mixed, 1, 40, b, sizeof b), "$'a\\tb\\'c\\\\d'");
	/* the width cuts at a character, never inside an escape or a UTF-8
	 * sequence */
	assert_string_equal(fmt_command(argv, 3, 12, b, sizeof b), "python3 -...");
	assert_string_equal(fmt_command(lng, 1, 10, b, sizeof b), "abcdefg...");
	assert_string_equal(fmt_command(nl, 1, 12, b, sizeof b), "$'\\n\\n\\n...");
	assert_string_equal(fmt_command(ee, 1, 8, b, sizeof b), "'\xc3\xa9\xc3\xa9...");
	/* the buffer bounds the output even when width is larger */
	assert_string_equal(fmt_command(lng, 1, 100, b, 8), "abcd...");
	assert_string_equal(fmt_command(argv, 0, 40, b, sizeof b), "");
}

static void test_fmt_text(void **state)
{
	char b[64];

	assert_string_equal(fmt_text("plain name", 40, b, sizeof b), "plain name");
	assert_string_equal(fmt_text("it's", 40, b, sizeof b), "it's");
	assert_string_equal(fmt_text("l1\nl2\tx\r", 40, b, sizeof b), "l1\\nl2\\tx\\r");
	assert_string_equal(fmt_text("\x1b[2J\x7f", 40, b, sizeof b), "\\x1b[2J\\x7f");
	assert_string_equal(fmt_text("a\\nb", 40, b, sizeof b), "a\\\\nb");
	assert_string_equal(fmt_text("\x9b" "31m", 40, b, sizeof b), "\\x9b31m");
	assert_string_equal(fmt_text("\xc2\x9b" "31m", 40, b, sizeof b), "\\u009b31m");
	assert_string_equal(fmt_text("x\xe2\x80\xaey", 40, b, sizeof b), "x\\u202ey");
	assert_string_equal(fmt_text("\xe2\x81\xa6\xe2\x81\xa9", 40, b, sizeof b), "\\u2066\\u2069");
	assert_string_equal(fmt_text("caf\xc3\xa9", 40, b, sizeof b), "caf\xc3\xa9");
	assert_string_equal(fmt_text("", 40, b, sizeof b), "");
	assert_string_equal(fmt_text("abcdefghij", 6, b, sizeof b), "abc...");
	assert_string_equal(fmt_text("\n\n\n\n", 6, b, sizeof b), "\\n...");
}

static void test_fmt_exit(void **state)
{
	struct corral_job j = { .state = "running" };
	char b[32];

	assert_string_equal(fmt_exit(&j, b, sizeof b), "-");
	j.has_exit_code = true;
	j.exit_code = 42;
	assert_string_equal(fmt_exit(&j, b, sizeof b), "42");
	j.has_exit_code = false;
	j.has_signal = true;
	j.signal = 9;
	assert_string_equal(fmt_exit(&j, b, sizeof b), "SIGKILL");
}

/* Columns as wide as their widest cell; only the last is cut, to fit. */
static char *print_table(const struct table *t, size_t width)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	table_print(t, f, width);
	fclose(f);
	return out;
}

static void test_table(void **state)
{
	static const char *const head[] = { "ID", "USER", "COMMAND" };
	const char *r1[] = { "1", "a-rather-long-user", "sleep 1" };
	const char *r2[] = { "22", "b", "sh -c 'a long command line that goes on'" };
	struct table t;
	struct cerr e;
	char *out;

	(void)state;
	table_init(&t, head, 3, 2);
	out = print_table(&t, 0);
	assert_string_equal(out, "ID  USER  COMMAND\n");	/* empty: the header */
	free(out);
	assert_int_equal(table_add(&t, r1, &e), 0);
	assert_int_equal(table_add(&t, r2, &e), 0);
	out = print_table(&t, 0);
	assert_string_equal(out,
		"ID  USER                COMMAND\n"
		"1   a-rather-long-user  sleep 1\n"
		"22  b                   sh -c 'a long command line that goes on'\n");
	free(out);
	out = print_table(&t, 40);	/* 24 + 16: the command is cut to 16 */
	assert_string_equal(out,
		"ID  USER                COMMAND\n"
		"1   a-rather-long-user  sleep 1\n"
		"22  b                   sh -c 'a long...\n");
	free(out);
	out = print_table(&t, 5);	/* never below 10, names never cut */
	assert_non_null(strstr(out, "a-rather-long-user  sleep 1\n"));
	assert_non_null(strstr(out, "sh -c '...\n"));
	free(out);
	table_free(&t);
	/* Width counts characters, not bytes. */
	assert_int_equal(text_width("h\xc3\xa9llo"), 5);
}

/* --- remote hosts ------------------------------------------------------- */

static void test_ssh_url(void **state)
{
	static const char *const bad[] = {
		"host", "ssh:/host", "http://host", "ssh://", "ssh://@host",
		"ssh://-oProxyCommand=x", "ssh://u@-oProxyCommand=x",
		"ssh://-l@host", "ssh://host:", "ssh://host:0", "ssh://host:65536",
		"ssh://host:22x", "ssh://host:+22", "ssh://host/path", "ssh://ho st",
		"ssh://h;id", "ssh://h$(id)", "ssh://u`id`@h", "ssh://[::1",
		"ssh://[]", "ssh://[host]", "ssh://[::1]x", "ssh://u@",
	};
	struct corral_ssh_url u;
	struct cerr e;

	(void)state;
	assert_int_equal(corral_parse_ssh_url("ssh://build-1.example.org", &u, &e), 0);
	assert_string_equal(u.host, "build-1.example.org");
	assert_string_equal(u.user, "");
	assert_int_equal(u.port, 0);
	assert_int_equal(corral_parse_ssh_url("ssh://alice@10.0.0.7:2222", &u, &e), 0);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.host, "10.0.0.7");
	assert_int_equal(u.port, 2222);
	assert_int_equal(corral_parse_ssh_url("ssh://a.b@corp.example@[fe80::1%eth0]:22", &u, &e), 0);
	assert_string_equal(u.user, "a.b@corp.example");
	assert_string_equal(u.host, "fe80::1%eth0");
	assert_int_equal(u.port, 22);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (corral_parse_ssh_url(bad[i], &u, &e) == 0)
			fail_msg("\"%s\" was taken, as user \"%s\" host \"%s\"",
				 bad[i], u.user, u.host);
		assert_non_null(strstr(e.msg, "ssh://[user@]host[:port]"));
	}
}

/* argv joined with "|". */
static const char *joined(const struct corral_ssh_cmd *c, char *b, size_t len)
{
	b[0] = '\0';
	for (size_t i = 0; c->argv[i]; i++)
		snprintf(b + strlen(b), len - strlen(b), "%s%s", i ? "|" : "", c->argv[i]);
	return b;
}

static void test_ssh_command(void **state)
{
	static struct corral_ssh_cmd c;
	struct corral_ssh_url u;
	struct cerr e;
	char b[2048];

	(void)state;
	assert_int_equal(corral_parse_ssh_url("ssh://bob@h:2222", &u, &e), 0);
	assert_int_equal(corral_ssh_command(&u, NULL, true, 30, "corral", NULL, &c, &e), 0);
	assert_string_equal(joined(&c, b, sizeof b),
		"ssh|-o|BatchMode=yes|-o|ConnectTimeout=30|-T|-a|-x|-o|ClearAllForwardings=yes|"
		"-e|none|-p|2222|-l|bob|--|h|corral dial-stdio");
	/* The user's options first (ssh keeps the first value it is given);
	 * no batch mode on a terminal; no timeout when told to wait for
	 * ever; the program and the socket quoted for the remote shell. */
	assert_int_equal(corral_parse_ssh_url("ssh://h", &u, &e), 0);
	assert_int_equal(corral_ssh_command(&u, " -F /tmp/cfg\t-o ControlMaster=auto ", false, 0,
					    "/opt/my corral", "/run/it's.sock", &c, &e), 0);
	assert_string_equal(joined(&c, b, sizeof b),
		"ssh|-F|/tmp/cfg|-o|ControlMaster=auto|-T|-a|-x|-o|ClearAllForwardings=yes|"
		"-e|none|--|h|'/opt/my corral' dial-stdio --socket '/run/it'\\''s.sock'");
	memset(b, 'x', sizeof b - 1);
	b[sizeof b - 1] = '\0';
	assert_int_equal(corral_ssh_command(&u, b, true, 1, "corral", NULL, &c, &e), -1);
	assert_non_null(strstr(e.msg, "CORRAL_SSH_OPTS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_name_and_size),
		cmocka_unit_test(test_io_majmin),
		cmocka_unit_test(test_io_merge),
		cmocka_unit_test(test_io_too_many_devices),
		cmocka_unit_test(test_io_bad_forms),
		cmocka_unit_test(test_io_real_resolver),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_job),
		cmocka_unit_test(test_exit_mapping),
		cmocka_unit_test(test_run_error_mapping),
		cmocka_unit_test(test_fmt_size),
		cmocka_unit_test(test_fmt_duration),
		cmocka_unit_test(test_fmt_numbers),
		cmocka_unit_test(test_fmt_time),
		cmocka_unit_test(test_fmt_command),
		cmocka_unit_test(test_fmt_text),
		cmocka_unit_test(test_fmt_exit),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ssh_url),
		cmocka_unit_test(test_ssh_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
