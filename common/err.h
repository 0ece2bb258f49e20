/* One error convention for all of corral.
 *
 * A function that can fail returns int: 0 (or a non-negative count) on
 * success, -1 on failure after filling the caller's struct cerr with an
 * errno value and a message that names what was wrong.  The message is
 * built where the failure is understood, so callers only add context. */
#ifndef CORRAL_ERR_H
#define CORRAL_ERR_H

#include <stddef.h>

#define CERR_MSG_MAX 512

struct cerr {
	int num;		/* errno value, or 0 for a pure protocol error */
	char msg[CERR_MSG_MAX];
};

/* Fill e with num and a formatted message; always returns -1. */
int cerr_set(struct cerr *e, int num, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like cerr_set with the current errno, appending ": strerror". */
int cerr_sys(struct cerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix an existing message with more context; returns -1. */
int cerr_wrap(struct cerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
