#include "parse.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "cleanup.h"

/* Digits of base (8 or 10) up to max; noun names the kind in messages
 * ("number", "octal number"). */
static int parse_base(const char *s, unsigned base, uint64_t max,
		      const char *noun, uint64_t *out, struct cerr *e)
{
	uint64_t v = 0;

	if (!s || !*s)
		return cerr_set(e, EINVAL, "empty %s", noun);
	for (const char *p = s; *p; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (*p < '0' || d >= base)
			return cerr_set(e, EINVAL, "\"%s\" is not %s %s", s,
					noun[0] == 'o' ? "an" : "a", noun);
		if (v > (max - d) / base)
			return cerr_set(e, ERANGE, "\"%s\" is too large", s);
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *out, struct cerr *e)
{
	return parse_base(s, 10, UINT64_MAX, "number", out, e);
}

int parse_octal(const char *s, uint64_t *out, struct cerr *e)
{
	return parse_base(s, 8, 0777777, "octal number", out, e);
}

/* Parse "digits[.digits]" into an integer part and a fraction scaled to
 * 10^9; *end points past it. */
static int parse_decimal(const char *s, uint64_t *ip, uint64_t *frac_e9,
			 const char **end)
{
	uint64_t i = 0, f = 0, scale = 100000000;
	const char *p = s;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (i > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		i = i * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			f += (uint64_t)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if (!digits)
		return -1;
	*ip = i;
	*frac_e9 = f;
	*end = p;
	return 0;
}

static int scaled(uint64_t i, uint64_t f_e9, uint64_t mult, uint64_t *out)
{
	if (i && mult > UINT64_MAX / i)
		return -1;
	*out = i * mult;
	/* fraction: f_e9 / 1e9 * mult, computed without overflow for
	 * mult up to 2^40 (T) */
	{
		unsigned __int128 fr = (unsigned __int128)f_e9 * mult / 1000000000u;
		if (*out > UINT64_MAX - (uint64_t)fr)
			return -1;
		*out += (uint64_t)fr;
	}
	return 0;
}

int parse_size(const char *s, uint64_t *out, struct cerr *e)
{
	static const struct { const char *suf; uint64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1ull << 10 }, { "KB", 1ull << 10 }, { "KiB", 1ull << 10 }, { "k", 1ull << 10 },
		{ "M", 1ull << 20 }, { "MB", 1ull << 20 }, { "MiB", 1ull << 20 }, { "m", 1ull << 20 },
		{ "G", 1ull << 30 }, { "GB", 1ull << 30 }, { "GiB", 1ull << 30 }, { "g", 1ull << 30 },
		{ "T", 1ull << 40 }, { "TB", 1ull << 40 }, { "TiB", 1ull << 40 }, { "t", 1ull << 40 },
	};
	uint64_t i, f;
	const char *end;

	if (!s || parse_decimal(s, &i, &f, &end) < 0)
		return cerr_set(e, EINVAL, "\"%s\" is not a size (e.g. 512M, 1.5G)",
				s ? s : "");
	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
		if (strcmp(end, units[k].suf))
			continue;
		if (units[k].mult == 1 && f)
			break;	/* fractional bytes */
		if (scaled(i, f, units[k].mult, out) < 0)
			return cerr_set(e, ERANGE, "size \"%s\" is too large", s);
		return 0;
	}
	return cerr_set(e, EINVAL, "\"%s\" is not a size (e.g. 512M, 1.5G)", s);
}

/* The unit at p: its multiplier and length; 0 length if none matches. */
static size_t duration_unit(const char *p, uint64_t *mult)
{
	static const struct { const char *suf; uint64_t mult; } units[] = {
		{ "ms", 1 }, { "min", 60000 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};

	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
		size_t n = strlen(units[k].suf);
		if (!strncmp(p, units[k].suf, n) && !(p[n] >= 'a' && p[n] <= 'z')) {
			*mult = units[k].mult;
			return n;
		}
	}
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *out, struct cerr *e)
{
	const char *p = s, *end;
	uint64_t i, f, part, total = 0, mult;
	size_t n;

	if (!s || !*s)
		return cerr_set(e, EINVAL, "\"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)",
				s ? s : "");
	/* A bare number is seconds; otherwise number-unit pairs, as 1h30m. */
	while (*p) {
		if (parse_decimal(p, &i, &f, &end) < 0)
			return cerr_set(e, EINVAL, "\"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)", s);
		n = duration_unit(end, &mult);
		if (!n && !*end && p == s)
			mult = 1000, n = 0;
		else if (!n)
			return cerr_set(e, EINVAL, "\"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)", s);
		if (scaled(i, f, mult, &part) < 0 || total > UINT64_MAX - part)
			return cerr_set(e, ERANGE, "duration \"%s\" is too large", s);
		total += part;
		p = end + n;
	}
	*out = total;
	return 0;
}

int parse_cpus(const char *s, uint64_t *quota_usec, struct cerr *e)
{
	uint64_t i, f, q;
	const char *end, *dot;

	if (!s || parse_decimal(s, &i, &f, &end) < 0 || *end)
		return cerr_set(e, EINVAL, "\"%s\" is not a CPU count (e.g. 1.5)",
				s ? s : "");
	dot = strchr(s, '.');
	if (dot && strlen(dot + 1) > 3)
		return cerr_set(e, EINVAL, "\"%s\": at most 3 decimals", s);
	/* The bounds are the run-option table's (runopt.def). */
	if (scaled(i, f, CPU_PERIOD_USEC, &q) < 0)
		return cerr_set(e, ERANGE, "\"%s\" CPUs is too many", s);
	*quota_usec = q;
	return 0;
}

/* "RTMIN", "RTMIN+3", "RTMAX-1" (s past "RT"): SIGRTMIN is the C
 * library's, not the kernel's 32. */
static int parse_rt(const char *s, const char *text, int *sig, struct cerr *e)
{
	uint64_t n = 0;
	bool min = !strncasecmp(s, "MIN", 3);

	if (!min && strncasecmp(s, "MAX", 3))
		return cerr_set(e, EINVAL, "\"%s\" is not a signal", text);
	s += 3;
	if (*s && (*s != (min ? '+' : '-') || parse_u64(s + 1, &n, e) < 0 ||
		   n > (uint64_t)(SIGRTMAX - SIGRTMIN)))
		return cerr_set(e, EINVAL, "\"%s\": RTMIN+N or RTMAX-N, N at most %d",
				text, SIGRTMAX - SIGRTMIN);
	*sig = min ? SIGRTMIN + (int)n : SIGRTMAX - (int)n;
	return 0;
}

int parse_signal(const char *text, int *sig, struct cerr *e)
{
	const char *s = text;
	uint64_t n;

	if (!s || !*s)
		return cerr_set(e, EINVAL, "empty signal");
	if (*s >= '0' && *s <= '9') {
		if (parse_u64(s, &n, e) < 0 || n < 1 || n > 64)
			return cerr_set(e, EINVAL, "\"%s\": a signal number is 1 to 64", text);
		*sig = (int)n;
		return 0;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RT", 2) && (s[2] == 'M' || s[2] == 'm'))
		return parse_rt(s + 2, text, sig, e);
	for (int i = 1; i < 32; i++) {
		const char *name = sigabbrev_np(i);
		if (name && !strcasecmp(s, name)) {
			*sig = i;
			return 0;
		}
	}
	return cerr_set(e, EINVAL, "\"%s\" is not a signal (a name such as TERM, USR1 or SIGINT, or a number)", text);
}

int parse_bool(const char *s, bool *out, struct cerr *e)
{
	if (!s)
		return cerr_set(e, EINVAL, "empty yes/no value");
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0")) {
		*out = false;
		return 0;
	}
	return cerr_set(e, EINVAL, "\"%s\" is not yes or no", s);
}

bool job_id_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}

bool cpuset_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > CPUSET_LEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == ',' || s[i] == '-'))
			return false;
	return true;
}

bool net_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NET_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.')))
			return false;
	}
	return true;
}

/* Strict on purpose (inet_aton takes "10.1", octal and hex): the text
 * is what an admin wrote or a user typed, and must mean one thing. */
int parse_ipv4(const char *s, uint32_t *out, struct cerr *e)
{
	uint32_t a = 0;
	const char *p = s;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		if (part && *p++ != '.')
			return cerr_set(e, EINVAL, "\"%.64s\" is not an IPv4 address like 10.0.0.1", s);
		for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
			v = v * 10 + (unsigned)(*p - '0');
		if (!digits || digits > 3 || v > 255 || (digits > 1 && p[-(int)digits] == '0'))
			return cerr_set(e, EINVAL, "\"%.64s\" is not an IPv4 address like 10.0.0.1", s);
		a = a << 8 | v;
	}
	if (*p)
		return cerr_set(e, EINVAL, "\"%.64s\" is not an IPv4 address like 10.0.0.1", s);
	*out = a;
	return 0;
}

int parse_netref(const char *s, char *name, uint32_t *addr, struct cerr *e)
{
	const char *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);
	char buf[NET_NAME_MAX + 1];

	if (n == 0 || n > NET_NAME_MAX)
		return cerr_set(e, EINVAL, "\"%.64s\": a network name is 1 to %d characters",
				s, NET_NAME_MAX);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!net_name_valid(buf))
		return cerr_set(e, EINVAL, "\"%s\" is not a network name (a-z, 0-9, _-.)", buf);
	*addr = 0;
	if (eq && parse_ipv4(eq + 1, addr, e) < 0)
		return -1;
	if (eq && *addr == 0)
		return cerr_set(e, EINVAL, "0.0.0.0 is not an address a job can have");
	memcpy(name, buf, n + 1);
	return 0;
}

bool job_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NAME_LEN_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789._-+@") != n || s[0] == '-' || s[0] == '.')
		return false;
	/* Any name but a job id: "2024" or "cafe" may also start an id, and
	 * a reference that is both is refused naming both (store.c). */
	return !job_id_valid(s);
}

bool env_name_valid(const char *s, size_t n)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";

	/* strchr finds the terminator too: s[i] is checked non-zero first. */
	if (n == 0 || !s[0] || !strchr(first, s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		bool digit = s[i] >= '0' && s[i] <= '9';
		if (!s[i] || (!digit && !strchr(first, s[i])))
			return false;
	}
	return true;
}

/* --- formatting -------------------------------------------------------- */

const char *fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	while (u + 1 < ARRAY_SIZE(units) && bytes >= (1ull << (10 * (u + 1))))
		u++;
	if (u == 0 || bytes % (1ull << (10 * u)) == 0)
		snprintf(buf, len, "%" PRIu64 " %s", bytes >> (10 * u), units[u]);
	else
		snprintf(buf, len, "%.1f %s",
			 (double)bytes / (double)(1ull << (10 * u)), units[u]);
	return buf;
}

const char *fmt_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s",
			 s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m",
			 s / 86400, s / 3600 % 24, s / 60 % 60);
	return buf;
}

/* "int.frac" with frac given in thousandths, trailing zeros dropped. */
static const char *fmt_milli(uint64_t whole, unsigned milli, char *buf,
			     size_t len)
{
	if (!milli) {
		snprintf(buf, len, "%" PRIu64, whole);
		return buf;
	}
	if (milli % 100 == 0)
		snprintf(buf, len, "%" PRIu64 ".%u", whole, milli / 100);
	else if (milli % 10 == 0)
		snprintf(buf, len, "%" PRIu64 ".%02u", whole, milli / 10);
	else
		snprintf(buf, len, "%" PRIu64 ".%03u", whole, milli);
	return buf;
}

const char *fmt_cpus(uint64_t quota_usec, char *buf, size_t len)
{
	uint64_t milli = (quota_usec + 50) / 100;	/* CPUs * 1000, rounded */

	return fmt_milli(milli / 1000, (unsigned)(milli % 1000), buf, len);
}
