#include "clifmt.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cleanup.h"
#include "parse.h"

/* --- io limits ------------------------------------------------------- */

int io_resolve_dev(const char *dev, uint32_t *major, uint32_t *minor,
		   struct cerr *e)
{
	char path[PATH_LEN_MAX];
	struct stat st;

	if (dev[0] == '/')
		snprintf(path, sizeof path, "%s", dev);
	else if (strchr(dev, '/') || !strcmp(dev, ".") || !strcmp(dev, ".."))
		return cerr_set(e, EINVAL, "\"%s\" is not a device name", dev);
	else if (snprintf(path, sizeof path, "/dev/%s", dev) >= (int)sizeof path)
		return cerr_set(e, ENAMETOOLONG, "device name too long");
	if (stat(path, &st) < 0)
		return cerr_sys(e, "%s", path);
	if (!S_ISBLK(st.st_mode))
		return cerr_set(e, ENOTBLK, "%s is not a block device", path);
	*major = major(st.st_rdev);
	*minor = minor(st.st_rdev);
	return 0;
}

/* "MAJ:MIN" with both parts plain decimal; 1 if it is one, 0 if the
 * string is not of that form, -1 if it is but out of range. */
static int parse_majmin(const char *s, uint32_t *major, uint32_t *minor,
			struct cerr *e)
{
	const char *colon = strchr(s, ':');
	char a[16];
	uint64_t ma, mi;
	struct cerr ignore;

	if (!colon || (size_t)(colon - s) >= sizeof a || colon == s)
		return 0;
	memcpy(a, s, (size_t)(colon - s));
	a[colon - s] = '\0';
	if (parse_u64(a, &ma, &ignore) < 0 || parse_u64(colon + 1, &mi, &ignore) < 0)
		return 0;
	if (ma > 0xfff || mi > 0xfffff)
		return cerr_set(e, ERANGE, "device %s is out of range", s);
	*major = (uint32_t)ma;
	*minor = (uint32_t)mi;
	return 1;
}

static struct io_limit *io_slot(struct runopts *lim, uint32_t major,
				uint32_t minor, struct cerr *e)
{
	for (size_t i = 0; i < lim->nio; i++)
		if (lim->io[i].major == major && lim->io[i].minor == minor)
			return &lim->io[i];
	if (lim->nio >= IO_LIMIT_MAX) {
		cerr_set(e, E2BIG, "io limits for more than %d devices",
			 IO_LIMIT_MAX);
		return NULL;
	}
	memset(&lim->io[lim->nio], 0, sizeof lim->io[0]);
	lim->io[lim->nio].major = major;
	lim->io[lim->nio].minor = minor;
	return &lim->io[lim->nio++];
}

static int io_value(enum io_kind kind, const char *s, uint64_t *v,
		    struct cerr *e)
{
	if (kind == IO_RBPS || kind == IO_WBPS) {
		if (parse_size(s, v, e) < 0)
			return -1;
	} else if (parse_u64(s, v, e) < 0) {
		return -1;
	}
	if (*v == 0)
		return cerr_set(e, EINVAL, "\"%s\": a limit of 0 is not allowed (omit the flag for no limit)",
				s);
	return 0;
}

int io_spec_merge(struct runopts *lim, const char *flag,
		  enum io_kind kind, const char *spec, io_resolve_fn resolve,
		  struct cerr *e)
{
	const char *eq = strrchr(spec, '=');
	char dev[PATH_LEN_MAX];
	uint32_t major, minor;
	struct io_limit *l;
	uint64_t v;
	int rc;

	if (!eq || eq == spec || !eq[1])
		return cerr_set(e, EINVAL, "%s: \"%s\" is not DEV=VALUE (e.g. vda=10M, 8:0=100)",
				flag, spec);
	if ((size_t)(eq - spec) >= sizeof dev)
		return cerr_set(e, ENAMETOOLONG, "%s: device name too long", flag);
	memcpy(dev, spec, (size_t)(eq - spec));
	dev[eq - spec] = '\0';
	if (io_value(kind, eq + 1, &v, e) < 0)
		return cerr_wrap(e, "%s", flag);
	rc = parse_majmin(dev, &major, &minor, e);
	if (rc == 0)
		rc = resolve(dev, &major, &minor, e) < 0 ? -1 : 1;
	if (rc < 0)
		return cerr_wrap(e, "%s", flag);
	l = io_slot(lim, major, minor, e);
	if (!l)
		return cerr_wrap(e, "%s", flag);
	switch (kind) {
	case IO_RBPS: l->rbps = v; break;
	case IO_WBPS: l->wbps = v; break;
	case IO_RIOPS: l->riops = v; break;
	case IO_WIOPS: l->wiops = v; break;
	}
	return 0;
}

/* --- exit status ----------------------------------------------------- */

static int start_failed_status(unsigned stage, int num)
{
	return stage == STAGE_JOB_EXEC && num == ENOENT ? EXIT_NOTFOUND
							: EXIT_NOSTART;
}

int job_exit_status(const struct corral_job *j)
{
	int s = state_from_name(j->state);

	if (s == JS_FAILED)
		return start_failed_status(j->stage, j->has_errno ? (int)j->err : 0);
	/* Lost, still running, or an end record without a status. */
	if (s == JS_LOST || !state_is_final((enum job_state)s))
		return EXIT_CORRAL;
	/* However it then ended: the cause is the clock, as with timeout(1). */
	if (s == JS_TIMED_OUT)
		return EXIT_TIMEDOUT;
	if (j->has_signal)
		return 128 + (int)j->signal;
	if (j->has_exit_code)
		return (int)j->exit_code;
	return EXIT_CORRAL;
}

int run_error_status(unsigned stage, const struct cerr *e)
{
	if (stage == STAGE_NONE)
		return EXIT_CORRAL;
	return start_failed_status(stage, e->num);
}

/* --- humanizing ------------------------------------------------------ */

const char *fmt_cpu_seconds(uint64_t usec, char *buf, size_t len)
{
	uint64_t ms = (usec + 500) / 1000;

	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
	return buf;
}

const char *fmt_time_ms(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

const char *fmt_signal(uint32_t sig, char *buf, size_t len)
{
	const char *n = sig < 256 ? sigabbrev_np((int)sig) : NULL;

	if (n)
		snprintf(buf, len, "SIG%s", n);
	else
		snprintf(buf, len, "SIG%u", sig);
	return buf;
}

/* --- showing strings from users ------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid; the
 * code point in *cpp. */
static size_t utf8_decode(const unsigned char *p, unsigned *cpp)
{
	unsigned c = p[0];
	size_t n;
	unsigned min, cp;

	if (c < 0x80) {
		*cpp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return n;
}

/* Valid characters a terminal must not get raw: C1 controls (0x9b is
 * CSI, as good as ESC [), the line and paragraph separators, and the
 * bidi controls that reorder what is shown (Trojan Source). */
static bool cp_unsafe(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c ||
	       cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* The display form of the character at p into t: itself, or an escape:
 * \n \t \r, \xHH for other control bytes and bytes that are not UTF-8,
 * \uHHHH for the unsafe code points above (*unsafe set for all these);
 * \\ for a backslash so that escapes stay unambiguous, and \' inside
 * $'...'.  Returns the bytes of p used; *len is the length of t. */
static size_t esc_char(const unsigned char *p, bool dollar, char t[16],
		       size_t *len, bool *unsafe)
{
	unsigned cp;
	size_t n = utf8_decode(p, &cp);

	*unsafe = true;
	if (n == 0) {
		*len = (size_t)snprintf(t, 16, "\\x%02x", p[0]);
		return 1;
	}
	if (cp == '\n' || cp == '\t' || cp == '\r') {
		t[0] = '\\';
		t[1] = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
		*len = 2;
		return n;
	}
	if (cp < 0x20 || cp == 0x7f) {
		*len = (size_t)snprintf(t, 16, "\\x%02x", cp);
		return n;
	}
	if (cp_unsafe(cp)) {
		*len = (size_t)snprintf(t, 16, "\\u%04x", cp);
		return n;
	}
	*unsafe = false;
	if (cp == '\\' || (dollar && cp == '\'')) {
		t[0] = '\\';
		t[1] = (char)cp;
		*len = 2;
		return n;
	}
	memcpy(t, p, n);
	*len = n;
	return n;
}

/* Output bounded by cap bytes.  Pieces are whole characters or escapes;
 * when one does not fit, the output goes back to the last piece that
 * leaves room for "..." and ends with it, so a cut never splits an
 * escape or a UTF-8 sequence. */
struct shown {
	char *buf;
	size_t n, cap, safe;
	bool cut;
};

static void shown_init(struct shown *o, size_t width, char *buf, size_t len)
{
	o->buf = buf;
	o->n = o->safe = 0;
	o->cap = len ? len - 1 : 0;
	if (width < o->cap)
		o->cap = width;
	o->cut = false;
}

static void shown_put(struct shown *o, const char *t, size_t k)
{
	if (o->cut)
		return;
	if (o->n + k > o->cap) {
		o->cut = true;
		return;
	}
	memcpy(o->buf + o->n, t, k);
	o->n += k;
	if (o->n + 3 <= o->cap)
		o->safe = o->n;
}

static const char *shown_end(struct shown *o, size_t len)
{
	if (o->cut && o->cap >= 3) {
		memcpy(o->buf + o->safe, "...", 3);
		o->n = o->safe + 3;
	}
	if (len)
		o->buf[o->n] = '\0';
	return o->buf;
}

/* Every character of s, escaped where needed. */
static void shown_escaped(struct shown *o, const char *s, bool dollar)
{
	const unsigned char *p = (const unsigned char *)s;
	char t[16];
	size_t k;
	bool unsafe;

	while (*p && !o->cut) {
		p += esc_char(p, dollar, t, &k, &unsafe);
		shown_put(o, t, k);
	}
}

static bool has_unsafe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char t[16];
	size_t k;
	bool unsafe = false;

	while (*p && !unsafe)
		p += esc_char(p, false, t, &k, &unsafe);
	return unsafe;
}

/* Characters a shell word may hold unquoted. */
static bool shell_bare(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_@%+=:,./-", *s)))
			return false;
	return true;
}

/* One argument as a shell word that pastes back as the same bytes: bare,
 * '...' (a quote as '\''), or bash's $'...' when a character must be
 * escaped. */
static void shown_word(struct shown *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (shell_bare(s)) {
		for (; *p && !o->cut; p++)
			shown_put(o, (const char *)p, 1);
		return;
	}
	if (has_unsafe(s)) {
		shown_put(o, "$'", 2);
		shown_escaped(o, s, true);
		shown_put(o, "'", 1);
		return;
	}
	shown_put(o, "'", 1);
	while (*p && !o->cut) {
		unsigned cp;
		size_t n = utf8_decode(p, &cp);	/* valid: has_unsafe said so */
		if (*p == '\'')
			shown_put(o, "'\\''", 4);
		else
			shown_put(o, (const char *)p, n);
		p += n;
	}
	shown_put(o, "'", 1);
}

const char *fmt_command(const char *const *argv, size_t argc, size_t width,
			char *buf, size_t len)
{
	struct shown o;

	shown_init(&o, width, buf, len);
	for (size_t i = 0; i < argc && !o.cut; i++) {
		if (i)
			shown_put(&o, " ", 1);
		shown_word(&o, argv[i]);
	}
	return shown_end(&o, len);
}

const char *fmt_text(const char *s, size_t width, char *buf, size_t len)
{
	struct shown o;

	shown_init(&o, width, buf, len);
	shown_escaped(&o, s, false);
	return shown_end(&o, len);
}

const char *fmt_exit(const struct corral_job *j, char *buf, size_t len)
{
	if (j->has_signal)
		return fmt_signal(j->signal, buf, len);
	if (j->has_exit_code)
		snprintf(buf, len, "%u", j->exit_code);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* --- JSON ------------------------------------------------------------ */

void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	while (*p) {
		unsigned cp = 0;
		size_t n = utf8_decode(p, &cp);
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (n == 0)
			fputs("\\ufffd", f);
		else if (cp_unsafe(cp))
			fprintf(f, "\\u%04x", cp);
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

/* Members are written as ,"key":value; the caller opens with '{' and
 * the first member is the id, which is always present. */
static void jkey(FILE *f, const char *k)
{
	fprintf(f, ",\"%s\":", k);
}

static void jstr(FILE *f, const char *k, const char *v)
{
	if (!v)
		return;
	jkey(f, k);
	json_str(f, v);
}

static void ju64(FILE *f, const char *k, bool has, uint64_t v)
{
	if (!has)
		return;
	jkey(f, k);
	fprintf(f, "%" PRIu64, v);
}

static void jstrv(FILE *f, const char *k, const char *const *v, size_t n)
{
	jkey(f, k);
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, v[i]);
	}
	fputc(']', f);
}

static void json_io(FILE *f, const struct io_limit *l)
{
	fprintf(f, "{\"major\":%u,\"minor\":%u", l->major, l->minor);
	ju64(f, "rbps", l->rbps != 0, l->rbps);
	ju64(f, "wbps", l->wbps != 0, l->wbps);
	ju64(f, "riops", l->riops != 0, l->riops);
	ju64(f, "wiops", l->wiops != 0, l->wiops);
	fputc('}', f);
}

/* Every run option under its table name, and the io limits. */
static void json_opts(FILE *f, const struct runopts *r)
{
	fputs(",\"limits\":{\"io\":[", f);
	for (size_t i = 0; i < r->nio; i++) {
		if (i)
			fputc(',', f);
		json_io(f, &r->io[i]);
	}
	fputc(']', f);
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		if (!runopt_defs[id].cgfile)
			continue;
		if (runopt_is_str(id))
			jstr(f, runopt_defs[id].name, r->s[id]);
		else
			ju64(f, runopt_defs[id].name, runopt_has(r, id), r->u[id]);
	}
	fputc('}', f);
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		if (runopt_defs[id].cgfile)
			continue;
		if (runopt_is_str(id)) {
			jstr(f, runopt_defs[id].name, r->s[id]);
		} else if (runopt_defs[id].type == RT_FLAG) {
			jkey(f, runopt_defs[id].name);
			fputs(runopt_has(r, id) && r->u[id] ? "true" : "false", f);
		} else if (runopt_defs[id].type == RT_OCTAL && runopt_has(r, id)) {
			/* a mode reads as people write it: "0077", not 63 */
			char b[16];
			jstr(f, runopt_defs[id].name, runopt_format(r, id, b, sizeof b));
		} else {
			ju64(f, runopt_defs[id].name, runopt_has(r, id), r->u[id]);
		}
	}
}

static void json_ns(FILE *f, uint32_t ns_off)
{
	fputs(",\"namespaces\":{", f);
	for (unsigned i = 0; i < 5; i++)
		fprintf(f, "%s\"%s\":%s", i ? "," : "", ns_name(i),
			ns_off & (1u << i) ? "false" : "true");
	fputc('}', f);
}

static void json_end(FILE *f, const struct corral_job *j)
{
	char sig[32];

	ju64(f, "exit_code", j->has_exit_code, j->exit_code);
	ju64(f, "signal", j->has_signal, j->signal);
	if (j->has_signal)
		jstr(f, "signal_name", fmt_signal(j->signal, sig, sizeof sig));
	ju64(f, "wstatus", j->has_wstatus, j->wstatus);
	ju64(f, "oom_kills", j->has_oom, j->oom_kills);
	ju64(f, "cpu_usec", j->has_cpu, j->cpu_usec);
	ju64(f, "memory_peak", j->has_peak, j->memory_peak);
	jstr(f, "error", j->error);
	if (j->stage != STAGE_NONE)
		jstr(f, "stage", stage_name(j->stage));
	ju64(f, "errno", j->has_errno, j->err);
	ju64(f, "log_bytes", j->has_log_bytes, j->log_bytes);
	ju64(f, "log_dropped", j->has_log_dropped, j->log_dropped);
}

void json_job(FILE *f, const struct corral_job *j)
{
	fputs("{\"id\":", f);
	json_str(f, j->id);
	ju64(f, "uid", true, j->uid);
	jstr(f, "user", j->user);
	jstr(f, "state", j->state);
	jstrv(f, "argv", j->argv, j->argc);
	jstrv(f, "env", j->env, j->nenv);
	jstr(f, "cwd", j->cwd);
	json_opts(f, &j->opt);
	json_ns(f, j->ns_off);
	ju64(f, "pid", j->has_pid, j->pid);
	ju64(f, "created_ms", true, j->created_ms);
	ju64(f, "started_ms", j->has_started, j->started_ms);
	ju64(f, "ended_ms", j->has_ended, j->ended_ms);
	jstr(f, "after", j->after);
	if (j->after)
		ju64(f, "after_ok", true, j->after_ok);
	ju64(f, "position", j->position != 0, j->position);
	jstr(f, "waiting", j->waiting);
	jstr(f, "net_address", j->net_address);
	jstr(f, "net_mac", j->net_mac);
	json_end(f, j);
	fputc('}', f);
}

void json_audit_row(FILE *f, const struct corral_audit_row *r,
		    const struct passwd *pw)
{
	fprintf(f, "{\"time_ms\":%" PRIu64 ",\"uid\":%u", r->time_ms, r->uid);
	jstr(f, "user", pw ? pw->pw_name : NULL);
	ju64(f, "pid", r->has_pid, r->pid);
	jstr(f, "action", r->action);
	jstr(f, "job_id", r->job_id);
	jstr(f, "outcome", r->outcome);
	jstr(f, "detail", r->detail);
	fputc('}', f);
}
