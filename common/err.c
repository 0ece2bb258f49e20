#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cerr_set(struct cerr *e, int num, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->num = num;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int cerr_sys(struct cerr *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	e->num = saved;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int cerr_wrap(struct cerr *e, const char *fmt, ...)
{
	char prefix[CERR_MSG_MAX], old[CERR_MSG_MAX];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation is acceptable: the message is for people. */
	if (snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old) < 0)
		e->msg[0] = '\0';
	return -1;
}
