/* A small, strict INI reader shared by corrald.conf and helper.conf.
 *
 *   # comment          ; comment
 *   [section]
 *   key = value
 *
 * Lines are at most CONF_LINE_MAX bytes; the file at most CONF_FILE_MAX.
 * Keys and section names are [a-z0-9_.-]+; a section may be "kind name"
 * ([network lab]), one space between.  Values are trimmed; no quoting, no escapes. */
#ifndef CORRAL_CONF_H
#define CORRAL_CONF_H

#include "err.h"

#define CONF_LINE_MAX 1024
#define CONF_FILE_MAX (64 * 1024)

/* Called for every key; return -1 with e set to reject the file. */
typedef int (*conf_fn)(void *ctx, const char *section, const char *key,
		       const char *value, int line, struct cerr *e);

/* Parse a whole buffer (not NUL-terminated, len bytes). */
int conf_parse(const char *buf, size_t len, const char *name, conf_fn fn,
	       void *ctx, struct cerr *e);

/* Read from an open fd (bounded) and parse. */
int conf_parse_fd(int fd, const char *name, conf_fn fn, void *ctx,
		  struct cerr *e);

#endif
