/* Taking a pipe's bytes only once they are safe elsewhere: tee(2) copies
 * them into a private pipe without consuming them, they are read from
 * there, and dropped from the source (splice to /dev/null) only when the
 * caller says so.  fdstore.c uses it so that a kill -9 of corrald between
 * reading a job's output and logging it repeats that chunk after the
 * restart instead of losing it (docs/restart.md). */
#ifndef CORRAL_PEEK_H
#define CORRAL_PEEK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct peek {
	int r, w;	/* the private pipe; -1 until first used */
	int null_fd;	/* /dev/null */
};
#define PEEK_INIT { -1, -1, -1 }

/* Up to cap bytes of pipe fd, left in it: > 0 bytes, 0 at EOF, -1 with
 * errno (EAGAIN: nothing yet; EINVAL: fd is not a pipe). */
ssize_t peek_pipe(struct peek *p, int fd, uint8_t *buf, size_t cap);
/* Consume n bytes of fd (peeked before); -1 with errno if they could
 * not all be. */
int peek_drop(struct peek *p, int fd, size_t n);
void peek_close(struct peek *p);

#endif
