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

const char *fmt_command(const char *const *argv, size_t argc, size_t width,
			char *buf, size_t len)
{
	size_t n = 0, cap = len ? len - 1 : 0;
	bool cut = false;

	if (width < cap)
		cap = width;
	for (size_t i = 0; i < argc && !cut; i++) {
		for (const char *p = i ? " " : "", *q = argv[i]; ; ) {
			char ch = *p ? *p++ : *q ? *q++ : '\0';
			if (!ch)
				break;
			if (n >= cap) {
				cut = true;
				break;
			}
			buf[n++] = ((unsigned char)ch < 0x20 || ch == 0x7f) ? '?' : ch;
		}
	}
	if (cut && cap >= 3)
		memcpy(buf + cap - 3, "...", 3);
	if (len)
		buf[n] = '\0';
	return buf;
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

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
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
	return n;
}

void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	while (*p) {
		size_t n = utf8_len(p);
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
		if (runopt_is_str(id))
			jstr(f, runopt_defs[id].name, r->s[id]);
		else
			ju64(f, runopt_defs[id].name, runopt_has(r, id), r->u[id]);
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
	json_end(f, j);
	fputc('}', f);
}

void json_audit_row(FILE *f, const struct corral_audit_row *r)
{
	fprintf(f, "{\"time_ms\":%" PRIu64 ",\"uid\":%u", r->time_ms, r->uid);
	ju64(f, "pid", r->has_pid, r->pid);
	jstr(f, "action", r->action);
	jstr(f, "job_id", r->job_id);
	jstr(f, "outcome", r->outcome);
	jstr(f, "detail", r->detail);
	fputc('}', f);
}
