/* INI reader: structure, trimming, every rejection with its line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

struct entry {
	char section[64], key[64], value[CONF_LINE_MAX + 1];
	int line;
};

struct seen {
	struct entry e[16];
	int n;
};

/* Records every key; refuses the key "reject" the way a real consumer
 * refuses a bad value. */
static int record(void *ctx, const char *section, const char *key,
		  const char *value, int line, struct cerr *e)
{
	struct seen *s = ctx;
	struct entry *x;

	if (!strcmp(key, "reject"))
		return cerr_set(e, EPERM, "test.conf:%d: %s is not allowed", line, value);
	assert_true(s->n < 16);
	x = &s->e[s->n++];
	snprintf(x->section, sizeof x->section, "%s", section);
	snprintf(x->key, sizeof x->key, "%s", key);
	snprintf(x->value, sizeof x->value, "%s", value);
	x->line = line;
	return 0;
}

static void parse_ok(const char *buf, size_t len, struct seen *s)
{
	struct cerr e = { 0 };

	memset(s, 0, sizeof *s);
	if (conf_parse(buf, len, "test.conf", record, s, &e) < 0)
		fail_msg("conf_parse: %s", e.msg);
}

static void parse_bad(const char *buf, size_t len, int num, const char *needle)
{
	struct seen s = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(conf_parse(buf, len, "test.conf", record, &s, &e), -1);
	if (e.num != num)
		fail_msg("errno %d (%s), want %d", e.num, e.msg, num);
	if (!strstr(e.msg, needle))
		fail_msg("error \"%s\" does not say \"%s\"", e.msg, needle);
}

static void assert_entry(const struct entry *x, const char *sec, const char *key,
			 const char *val, int line)
{
	assert_string_equal(x->section, sec);
	assert_string_equal(x->key, key);
	assert_string_equal(x->value, val);
	assert_int_equal(x->line, line);
}

static void test_structure(void **state)
{
	static const char text[] =
		"top = 1\n"
		"# comment = no\n"
		"  ; also = no\n"
		"\n"
		"[main]\n"
		"key = value\n"
		"  spaced_key\t=\t  v a l  \t\r\n"
		"[ other.sec-2 ]\n"
		"empty=\n"
		"eq = a=b # not a comment\n"
		"last=x";
	struct seen s;

	parse_ok(text, strlen(text), &s);
	assert_int_equal(s.n, 6);
	assert_entry(&s.e[0], "", "top", "1", 1);
	assert_entry(&s.e[1], "main", "key", "value", 6);
	assert_entry(&s.e[2], "main", "spaced_key", "v a l", 7);
	assert_entry(&s.e[3], "other.sec-2", "empty", "", 9);
	assert_entry(&s.e[4], "other.sec-2", "eq", "a=b # not a comment", 10);
	assert_entry(&s.e[5], "other.sec-2", "last", "x", 11);
}

/* "[kind name]": one space between two names ([network lab]). */
static void test_named_section(void **state)
{
	static const char text[] = "[network lab]\nbridge = br0\n[ network  x ]\n";
	struct seen s;

	parse_ok(text, strlen("[network lab]\nbridge = br0\n"), &s);
	assert_int_equal(s.n, 1);
	assert_entry(&s.e[0], "network lab", "bridge", "br0", 2);
	parse_bad(text, strlen(text), EINVAL, "test.conf:3: bad section name");
}

static void test_empty(void **state)
{
	struct seen s;

	parse_ok("", 0, &s);
	assert_int_equal(s.n, 0);
	parse_ok("\n\n  \t\r\n# x\n", 10, &s);
	assert_int_equal(s.n, 0);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "a = 1\njust words\n", "test.conf:2: expected key = value" },
		{ "[main\n", "test.conf:1: malformed section header" },
		{ "[main] x\n", "test.conf:1: malformed section header" },
		{ "[main] # c\n", "test.conf:1: malformed section header" },
		{ "\n[]\n", "test.conf:2: bad section name" },
		{ "[Main]\n", "test.conf:1: bad section name" },
		{ "[a  b]\n", "test.conf:1: bad section name" },
		{ "[a b c]\n", "test.conf:1: bad section name" },
		{ "[a B]\n", "test.conf:1: bad section name" },
		{ "[a\tb]\n", "test.conf:1: bad section name" },
		{ "Key = v\n", "test.conf:1: bad key \"Key\"" },
		{ "= v\n", "test.conf:1: bad key \"\"" },
		{ "a b = c\n", "test.conf:1: bad key \"a b\"" },
		{ "x\n\n\nk\xc3\xa9y = c\n", "test.conf:1: expected key" },
		{ "\n\n\nk\xc3\xa9y = c\n", "test.conf:4: bad key" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parse_bad(cases[i].text, strlen(cases[i].text), EINVAL, cases[i].needle);
}

static void test_section_name_length(void **state)
{
	char buf[128];
	struct seen s;

	/* section names fit a 64-byte buffer with its NUL: 63 bytes */
	snprintf(buf, sizeof buf, "[%.63s]\nk = v\n",
		 "sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
	parse_ok(buf, strlen(buf), &s);
	assert_int_equal(strlen(s.e[0].section), 63);
	snprintf(buf, sizeof buf, "[%.64s]\n",
		 "sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
	parse_bad(buf, strlen(buf), EINVAL, "test.conf:1: bad section name");
}

static void test_long_lines(void **state)
{
	char *buf = malloc(CONF_LINE_MAX + 16);
	struct seen s;
	size_t n;

	/* "k = vvvv...": exactly CONF_LINE_MAX bytes before the newline */
	n = (size_t)snprintf(buf, 16, "[a]\nk = ");
	memset(buf + n, 'v', CONF_LINE_MAX - 4);
	n += CONF_LINE_MAX - 4;
	buf[n++] = '\n';
	parse_ok(buf, n, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(strlen(s.e[0].value), CONF_LINE_MAX - 4);
	/* one byte more, with or without the newline */
	memset(buf + n - 1, 'v', 1);
	buf[n++] = '\n';
	parse_bad(buf, n, EINVAL, "test.conf:2: line longer than 1024 bytes");
	parse_bad(buf, n - 1, EINVAL, "test.conf:2: line longer");
	free(buf);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "a = 1\nb = x\0y\nc = 3\n";

	parse_bad(text, sizeof text - 1, EINVAL, "test.conf:2: NUL byte");
	/* a NUL where a line ending would be is no line ending */
	parse_bad("a = 1\0", 6, EINVAL, "test.conf:1: NUL byte");
}

static void test_file_size(void **state)
{
	char *buf = malloc(CONF_FILE_MAX + 1);
	struct seen s;

	/* comment lines of 64 bytes up to exactly the limit */
	for (size_t i = 0; i < CONF_FILE_MAX; i += 64) {
		memset(buf + i, '#', 63);
		buf[i + 63] = '\n';
	}
	parse_ok(buf, CONF_FILE_MAX, &s);
	assert_int_equal(s.n, 0);
	buf[CONF_FILE_MAX] = '\n';
	parse_bad(buf, CONF_FILE_MAX + 1, EFBIG, "test.conf: larger than 65536 bytes");
	free(buf);
}

static void test_callback_rejects(void **state)
{
	static const char text[] = "[a]\nfirst = 1\n\nreject = because\nafter = 2\n";
	struct seen s = { 0 };
	struct cerr e = { 0 };

	assert_int_equal(conf_parse(text, sizeof text - 1, "test.conf", record, &s, &e), -1);
	assert_int_equal(e.num, EPERM);
	assert_string_equal(e.msg, "test.conf:4: because is not allowed");
	assert_int_equal(s.n, 1);	/* stopped there: "after" never seen */
	assert_string_equal(s.e[0].key, "first");
}

static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("conf", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void test_parse_fd(void **state)
{
	static const char text[] = "[x]\nk = v\n";
	struct seen s = { 0 };
	struct cerr e = { 0 };
	char *big;
	int fd;

	fd = memfd_with(text, sizeof text - 1);
	assert_int_equal(conf_parse_fd(fd, "t.conf", record, &s, &e), 0);
	close(fd);
	assert_int_equal(s.n, 1);
	assert_entry(&s.e[0], "x", "k", "v", 2);

	big = calloc(1, CONF_FILE_MAX + 100);
	memset(big, '\n', CONF_FILE_MAX + 100);
	fd = memfd_with(big, CONF_FILE_MAX + 100);
	assert_int_equal(conf_parse_fd(fd, "t.conf", record, &s, &e), -1);
	assert_int_equal(e.num, EFBIG);
	assert_non_null(strstr(e.msg, "t.conf"));
	close(fd);
	free(big);

	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(conf_parse_fd(fd, "dir.conf", record, &s, &e), -1);
	assert_int_equal(e.num, EISDIR);
	assert_non_null(strstr(e.msg, "dir.conf: read"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_named_section),
		cmocka_unit_test(test_section_name_length),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_file_size),
		cmocka_unit_test(test_callback_rejects),
		cmocka_unit_test(test_parse_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
