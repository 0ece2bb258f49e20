/* peek.c: a pipe's bytes stay in it until dropped, so a reader that dies
 * between reading and storing them loses nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "peek.h"

static void test_peek_keeps_until_dropped(void **state)
{
	struct peek p = PEEK_INIT;
	uint8_t buf[64];
	int pp[2];

	(void)state;
	assert_int_equal(pipe2(pp, O_NONBLOCK), 0);
	assert_int_equal(write(pp[1], "hello world", 11), 11);
	assert_int_equal(peek_pipe(&p, pp[0], buf, sizeof buf), 11);
	assert_memory_equal(buf, "hello world", 11);
	/* Not consumed: a second reader (the next corrald) gets them. */
	memset(buf, 0, sizeof buf);
	assert_int_equal(peek_pipe(&p, pp[0], buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(peek_drop(&p, pp[0], 6), 0);
	assert_int_equal(peek_pipe(&p, pp[0], buf, sizeof buf), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(peek_drop(&p, pp[0], 5), 0);
	/* Empty with a writer: nothing yet; then EOF once it closes. */
	assert_int_equal(peek_pipe(&p, pp[0], buf, sizeof buf), -1);
	assert_int_equal(errno, EAGAIN);
	close(pp[1]);
	assert_int_equal(peek_pipe(&p, pp[0], buf, sizeof buf), 0);
	close(pp[0]);
	peek_close(&p);
}

/* A whole chunk at a time, in order, across many peeks and drops. */
static void test_peek_large(void **state)
{
	struct peek p = PEEK_INIT;
	static uint8_t in[200000], out[200000], buf[65536];
	size_t w = 0, r = 0;
	int pp[2];

	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(pipe2(pp, O_NONBLOCK), 0);
	while (r < sizeof in) {
		ssize_t n = w < sizeof in ? write(pp[1], in + w, sizeof in - w) : 0;
		if (n > 0)
			w += (size_t)n;
		n = peek_pipe(&p, pp[0], buf, sizeof buf);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		assert_true(n > 0 && r + (size_t)n <= sizeof out);
		memcpy(out + r, buf, (size_t)n);
		assert_int_equal(peek_drop(&p, pp[0], (size_t)n), 0);
		r += (size_t)n;
	}
	assert_memory_equal(in, out, sizeof in);
	close(pp[0]);
	close(pp[1]);
	peek_close(&p);
}

/* Not a pipe: EINVAL, and the caller reads it the plain way. */
static void test_peek_not_a_pipe(void **state)
{
	struct peek p = PEEK_INIT;
	uint8_t buf[8];
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(peek_pipe(&p, fd, buf, sizeof buf), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	peek_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peek_keeps_until_dropped),
		cmocka_unit_test(test_peek_large),
		cmocka_unit_test(test_peek_not_a_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
