/* See peek.h. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "bounds.h"
#include "peek.h"

static int peek_open(struct peek *p)
{
	int pp[2];

	if (p->r >= 0)
		return 0;
	if (p->null_fd < 0 && (p->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	p->r = pp[0];
	p->w = pp[1];
	fcntl(p->w, F_SETPIPE_SZ, LOG_CHUNK_MAX);	/* best effort */
	return 0;
}

ssize_t peek_pipe(struct peek *p, int fd, uint8_t *buf, size_t cap)
{
	ssize_t n, got = 0;

	if (peek_open(p) < 0)
		return -1;
	n = tee(fd, p->w, cap, SPLICE_F_NONBLOCK);
	if (n <= 0)
		return n;	/* 0: EOF; -1 EAGAIN: nothing yet */
	while (got < n) {
		ssize_t r = read(p->r, buf + got, (size_t)(n - got));
		if (r <= 0)
			break;
		got += r;
	}
	if (got < n) {
		/* Our own pipe, just filled: cannot happen.  Emptied; what
		 * was not read back stays in fd (only got is dropped). */
		uint8_t scratch[256];
		while (read(p->r, scratch, sizeof scratch) > 0)
			;
	}
	if (got == 0) {
		errno = EAGAIN;
		return -1;
	}
	return got;
}

int peek_drop(struct peek *p, int fd, size_t n)
{
	uint8_t scratch[4096];

	while (n > 0) {
		ssize_t r = splice(fd, NULL, p->null_fd, NULL, n, SPLICE_F_NONBLOCK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)	/* no splice to /dev/null here: read instead */
			r = read(fd, scratch, n < sizeof scratch ? n : sizeof scratch);
		if (r <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

void peek_close(struct peek *p)
{
	int *fds[] = { &p->r, &p->w, &p->null_fd };

	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}
