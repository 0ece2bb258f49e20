#include "conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* "kind" or "kind name" ([network lab]): one space between two names. */
static int valid_section(const char *s)
{
	char kind[64];
	const char *sp = strchr(s, ' ');
	size_t n = sp ? (size_t)(sp - s) : 0;

	if (!sp)
		return valid_name(s);
	if (n >= sizeof kind)
		return 0;
	memcpy(kind, s, n);
	kind[n] = '\0';
	return valid_name(kind) && valid_name(sp + 1);
}

static int parse_line(char *line, int lineno, char *section, size_t seclen,
		      const char *name, conf_fn fn, void *ctx, struct cerr *e)
{
	char *s = trim(line), *eq, *key, *val;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1])
			return cerr_set(e, EINVAL, "%s:%d: malformed section header",
					name, lineno);
		*close = '\0';
		s = trim(s + 1);
		if (!valid_section(s) || strlen(s) >= seclen)
			return cerr_set(e, EINVAL, "%s:%d: bad section name",
					name, lineno);
		strcpy(section, s);
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq)
		return cerr_set(e, EINVAL, "%s:%d: expected key = value", name,
				lineno);
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!valid_name(key))
		return cerr_set(e, EINVAL, "%s:%d: bad key \"%s\"", name,
				lineno, key);
	return fn(ctx, section, key, val, lineno, e);
}

int conf_parse(const char *buf, size_t len, const char *name, conf_fn fn,
	       void *ctx, struct cerr *e)
{
	char line[CONF_LINE_MAX + 1], section[64] = "";
	size_t pos = 0;
	int lineno = 0;

	if (len > CONF_FILE_MAX)
		return cerr_set(e, EFBIG, "%s: larger than %d bytes", name,
				CONF_FILE_MAX);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		lineno++;
		if (n > CONF_LINE_MAX)
			return cerr_set(e, EINVAL, "%s:%d: line longer than %d bytes",
					name, lineno, CONF_LINE_MAX);
		if (memchr(buf + pos, '\0', n))
			return cerr_set(e, EINVAL, "%s:%d: NUL byte", name,
					lineno);
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		if (parse_line(line, lineno, section, sizeof section, name, fn,
			       ctx, e) < 0)
			return -1;
		pos += n + (nl ? 1 : 0);
	}
	return 0;
}

int conf_parse_fd(int fd, const char *name, conf_fn fn, void *ctx,
		  struct cerr *e)
{
	_cleanup_free_ char *buf = malloc(CONF_FILE_MAX + 1);
	size_t len = 0;

	if (!buf)
		return cerr_sys(e, "%s", name);
	for (;;) {
		ssize_t n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(e, "%s: read", name);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONF_FILE_MAX)
			return cerr_set(e, EFBIG, "%s: larger than %d bytes",
					name, CONF_FILE_MAX);
	}
	return conf_parse(buf, len, name, fn, ctx, e);
}
