#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define BASE_LOCK_WAIT_MS 5000

static int read_at(int dfd, const char *name, char *buf, size_t cap)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int write_at(int dfd, const char *name, const char *val, struct cerr *e)
{
	_cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = strlen(val);

	if (fd < 0)
		return cerr_sys(e, "open %s", name);
	if (write(fd, val, n) != (ssize_t)n)
		return cerr_sys(e, "write \"%s\" to %s", val, name);
	return 0;
}

/* The cgroup2 mount point, from mountinfo (never assumed). */
static int find_mount(char *out, size_t cap, struct cerr *e)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return cerr_sys(e, "open /proc/self/mountinfo");
	while (fgets(line, sizeof line, f)) {
		char *sep = strstr(line, " - "), *fields[5], *save = NULL, *t;
		int i = 0;
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		for (t = strtok_r(line, " ", &save); t && i < 5; t = strtok_r(NULL, " ", &save))
			fields[i++] = t;
		if (i < 5 || strlen(fields[4]) >= cap || strchr(fields[4], '\\'))
			continue;
		strcpy(out, fields[4]);
		return 0;
	}
	return cerr_set(e, ENOENT, "no cgroup2 file system is mounted");
}

/* Walk a relative path one directory at a time, refusing symlinks. */
static int walk(int dfd, const char *rel, struct cerr *e)
{
	char buf[PATH_LEN_MAX], *save = NULL;
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0 || strlen(rel) >= sizeof buf)
		return cerr_set(e, EINVAL, "cgroup path too long");
	strcpy(buf, rel);
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next;
		if (!strcmp(c, "..") || !strcmp(c, ".")) {
			close(fd);
			return cerr_set(e, EINVAL, "cgroup path has a dot component");
		}
		next = openat(fd, c, DIR_FLAGS);
		close(fd);
		if (next < 0)
			return cerr_sys(e, "open cgroup %s (at %s)", rel, c);
		fd = next;
	}
	return fd;
}

static int self_cgroup(char *out, size_t cap, struct cerr *e)
{
	char buf[8192], *line, *save = NULL;

	if (read_at(AT_FDCWD, "/proc/self/cgroup", buf, sizeof buf) < 0)
		return cerr_sys(e, "read /proc/self/cgroup");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) || strlen(line + 3) >= cap)
			continue;
		strcpy(out, line + 3);
		return 0;
	}
	return cerr_set(e, ENOENT, "not in a cgroup2 group");
}

/* Under Delegate=yes the base group belongs to the manager user, and
 * cgroup v2 lets whoever may write the common ancestor's cgroup.procs
 * move any process between two of its descendants: corrald could take a
 * job out of its limits into a group of its own.  So every group the
 * helper works in, from the base down, is root's alone: the directory
 * (no group of the manager's made below it) and its delegation files
 * (no migration with it as the common ancestor).  corrald needs neither;
 * it never touches cgroups. */
static int own_group(int dfd, const char *what, struct cerr *e)
{
	static const char *const files[] = { "cgroup.procs", "cgroup.threads",
					     "cgroup.subtree_control" };

	if (fchown(dfd, 0, 0) < 0 || fchmod(dfd, 0755) < 0)
		return cerr_sys(e, "take cgroup %s for root", what);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (fchownat(dfd, files[i], 0, 0, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT)
			return cerr_sys(e, "take %s/%s for root", what, files[i]);
	return 0;
}

/* Open (making it if needed) a group the helper then owns alone; one
 * that someone else made first is taken over, not trusted. */
static int mkdir_open(int dfd, const char *name, struct cerr *e)
{
	int fd;

	if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
		return cerr_sys(e, "create cgroup %s", name);
	fd = openat(dfd, name, DIR_FLAGS);
	if (fd < 0)
		return cerr_sys(e, "open cgroup %s", name);
	if (own_group(fd, name, e) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Processes may not live in a group whose subtree has controllers, so
 * whatever runs in the base moves down: under cgroup_base = self, corrald
 * and us; in a unit of its own (corral-jobs.service), that unit's
 * placeholder process.  With a fixed base we join daemon/ ourselves too,
 * wherever corrald started us: a helper outside its base would be killed
 * with corrald's unit, and so could not keep the jobs across a restart of
 * corrald (docs/restart.md).  corrald stays where it was started unless
 * that is the base itself. */
static int evacuate(int basefd, bool join, struct cerr *e)
{
	char procs[65536], self[16], *save = NULL;
	_cleanup_close_ int dfd = -1;

	if (read_at(basefd, "cgroup.procs", procs, sizeof procs) <= 0) {
		if (!join)
			return 0;
		procs[0] = '\0';
	}
	dfd = mkdir_open(basefd, "daemon", e);
	if (dfd < 0)
		return -1;
	for (char *p = strtok_r(procs, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		if (write_at(dfd, "cgroup.procs", p, e) < 0 && errno != ESRCH)
			return -1;
	snprintf(self, sizeof self, "%d", (int)getpid());
	if (join && write_at(dfd, "cgroup.procs", self, e) < 0)
		return cerr_wrap(e, "move the helper into its base's daemon group");
	return 0;
}

/* One helper per base, whoever started it: max_jobs and the start-up
 * sweep are per helper, so a second one would double the one and kill
 * the other's jobs with the other.  A helper whose corrald just died may
 * still be killing its jobs: wait a little for it, then give up.  The
 * lock lives as long as this helper (its fd is CLOEXEC, and every init
 * closes its copy before anything else). */
static int lock_base(int basefd, const char *base, struct cerr *e)
{
	for (int waited = 0; flock(basefd, LOCK_EX | LOCK_NB) < 0; waited += 50) {
		if (errno != EWOULDBLOCK)
			return cerr_sys(e, "lock the cgroup base %s", base);
		if (waited >= BASE_LOCK_WAIT_MS)
			return cerr_set(e, EBUSY, "another corral-helper serves the cgroup base %s",
					base);
		poll(NULL, 0, 50);
	}
	return 0;
}

int cg_open(const struct policy *p, struct cg_root *cg, struct cerr *e)
{
	char mnt[PATH_LEN_MAX], base[PATH_LEN_MAX];
	_cleanup_close_ int mfd = -1;
	struct statfs sfs;

	cg->basefd = cg->jobsfd = -1;
	if (find_mount(mnt, sizeof mnt, e) < 0)
		return -1;
	mfd = open(mnt, DIR_FLAGS);
	if (mfd < 0)
		return cerr_sys(e, "open %s", mnt);
	if (fstatfs(mfd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return cerr_set(e, EINVAL, "%s is not a cgroup2 file system", mnt);
	if (!strcmp(p->cgroup_base, "self")) {
		if (self_cgroup(base, sizeof base, e) < 0)
			return -1;
		if (!strcmp(base, "/"))
			return cerr_set(e, EINVAL, "cgroup_base self: the helper runs in the root cgroup");
		/* Already moved into base/daemon (by a helper before this one:
		 * a re-exec, or a helper corrald started again): the base is
		 * the parent, not a group below it. */
		size_t n = strlen(base);
		if (n > 7 && !strcmp(base + n - 7, "/daemon"))
			base[n - 7] = '\0';
	} else {
		strcpy(base, p->cgroup_base);
	}
	cg->basefd = walk(mfd, base, e);
	if (cg->basefd < 0)
		return -1;
	if (lock_base(cg->basefd, base, e) < 0 ||
	    own_group(cg->basefd, base, e) < 0)
		return -1;
	if (evacuate(cg->basefd, strcmp(p->cgroup_base, "self") != 0, e) < 0)
		return -1;
	if (read_at(cg->basefd, "cgroup.controllers", cg->controllers,
		    sizeof cg->controllers) < 0)
		return cerr_sys(e, "read %s/cgroup.controllers", base);
	cg->controllers[strcspn(cg->controllers, "\n")] = '\0';
	cg->available = controllers_parse(cg->controllers);
	cg->jobsfd = mkdir_open(cg->basefd, "jobs", e);
	return cg->jobsfd < 0 ? -1 : 0;
}

static int enable(int dfd, unsigned bits, struct cerr *e)
{
	for (unsigned b = 1; b <= CTRL_ALL; b <<= 1) {
		char v[32];
		if (!(bits & b))
			continue;
		snprintf(v, sizeof v, "+%s", ctrl_name(b));
		if (write_at(dfd, "cgroup.subtree_control", v, e) < 0)
			return cerr_wrap(e, "enable the %s controller", ctrl_name(b));
	}
	return 0;
}

/* The per-user totals of the policy's [user] section on jobs/<uid>. */
static int user_totals(int ufd, const struct policy *p, struct cerr *e)
{
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		struct runopts tot = { 0 };
		char v[64];

		tot.u[id] = p->user[id];
		if (p->user[id] &&
		    write_at(ufd, runopt_defs[id].cgfile,
			     runopt_cgroup_value(&tot, id, v, sizeof v), e) < 0)
			return -1;
	}
	return 0;
}

int cg_create(struct cg_root *cg, const struct policy *p,
	      const struct start_req *r, struct cerr *e)
{
	unsigned need = start_controllers(r), upper = need | user_controllers(p);
	_cleanup_close_ int ufd = -1;
	char uidname[16];
	int jfd;

	if (controllers_check(cg->available, upper, cg->controllers, e) < 0)
		return -1;
	if (enable(cg->basefd, upper, e) < 0 || enable(cg->jobsfd, upper, e) < 0)
		return -1;
	snprintf(uidname, sizeof uidname, "%u", (unsigned)r->uid);
	ufd = mkdir_open(cg->jobsfd, uidname, e);
	if (ufd < 0 || user_totals(ufd, p, e) < 0 || enable(ufd, need, e) < 0)
		return -1;
	if (mkdirat(ufd, r->job_id, 0755) < 0)
		return cerr_sys(e, "create cgroup jobs/%s/%s", uidname, r->job_id);
	jfd = openat(ufd, r->job_id, DIR_FLAGS);
	if (jfd < 0) {
		cerr_sys(e, "open cgroup jobs/%s/%s", uidname, r->job_id);
		unlinkat(ufd, r->job_id, AT_REMOVEDIR);
		return -1;
	}
	return jfd;
}

/* Every option of the table that has a cgroup file, then io.max. */
int cg_write_limits(int jfd, const struct start_req *r, struct cerr *e)
{
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		char v[CPUSET_LEN_MAX + 32];

		if (!runopt_defs[id].cgfile || !runopt_has(&r->opt, id))
			continue;
		if (write_at(jfd, runopt_defs[id].cgfile,
			     runopt_cgroup_value(&r->opt, id, v, sizeof v), e) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->opt.nio; i++) {
		const struct io_limit *l = &r->opt.io[i];
		char buf[256], v[4][32];
		const uint64_t vals[4] = { l->rbps, l->wbps, l->riops, l->wiops };
		for (int k = 0; k < 4; k++) {
			if (vals[k])
				snprintf(v[k], sizeof v[k], "%" PRIu64, vals[k]);
			else
				strcpy(v[k], "max");
		}
		snprintf(buf, sizeof buf, "%u:%u rbps=%s wbps=%s riops=%s wiops=%s",
			 l->major, l->minor, v[0], v[1], v[2], v[3]);
		if (write_at(jfd, "io.max", buf, e) < 0)
			return -1;
	}
	return 0;
}

/* A "key value" line's value, at most WIRE_U63_MAX (the wire's and the
 * store's ceiling; no real counter comes near it). */
static uint64_t keyed(const char *buf, const char *key)
{
	size_t n = strlen(key);
	uint64_t v;

	for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ') {
			v = strtoull(p + n + 1, NULL, 10);
			return v > WIRE_U63_MAX ? WIRE_U63_MAX : v;
		}
	return 0;
}

void cg_read_stats(int jfd, struct cg_stats *s)
{
	char buf[4096];

	memset(s, 0, sizeof *s);
	if (read_at(jfd, "memory.events", buf, sizeof buf) > 0) {
		s->oom_kills = keyed(buf, "oom_kill");
		s->has_oom = true;
	}
	if (read_at(jfd, "cpu.stat", buf, sizeof buf) > 0)
		s->cpu_usec = keyed(buf, "usage_usec");
	if (read_at(jfd, "memory.peak", buf, sizeof buf) > 0) {
		s->memory_peak = strtoull(buf, NULL, 10);
		if (s->memory_peak > WIRE_U63_MAX)
			s->memory_peak = WIRE_U63_MAX;
		s->has_peak = true;
	}
}

int cg_kill(int jfd, struct cerr *e)
{
	return write_at(jfd, "cgroup.kill", "1", e);
}

/* --- a signal to every process of a group ------------------------------ */

#define PROCS_MAX (1 << 20)	/* pids read from one cgroup.procs */
#define SIGNAL_PASSES 8		/* rounds for processes forked meanwhile */
#define SIGNAL_BATCH 64		/* pidfds open at once */

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static bool has_pid(const pid_t *v, size_t n, pid_t p)
{
	return n && bsearch(&p, v, n, sizeof *v, pid_cmp);
}

/* The group's processes, sorted (at most PROCS_MAX of them). */
static int read_procs(int jfd, pid_t **out, size_t *n)
{
	_cleanup_fclose_ FILE *f = NULL;
	int fd = openat(jfd, "cgroup.procs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t cap = 0;
	long v;

	*out = NULL;
	*n = 0;
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (*n < PROCS_MAX && fscanf(f, "%ld", &v) == 1) {
		if (*n == cap) {
			pid_t *g = reallocarray(*out, cap = cap ? cap * 2 : 256, sizeof **out);
			if (!g)
				return -1;	/* *out is the caller's to free */
			*out = g;
		}
		if (v > 0 && v <= INT32_MAX)
			(*out)[(*n)++] = (pid_t)v;
	}
	if (*n)
		qsort(*out, *n, sizeof **out, pid_cmp);
	return 0;
}

/* Signal the processes whose pidfds are open, if the group still lists
 * them: a pid listed before its pidfd_open may have been reused by a
 * process elsewhere; one listed after is the pidfd's own, or the pidfd
 * is of a process that has gone (ESRCH).  No job process can leave the
 * group (its cgroup.procs files are root's). */
static void signal_batch(int jfd, const pid_t *pids, const int *fds, size_t n,
			 int sig)
{
	_cleanup_free_ pid_t *now = NULL;
	size_t nnow;

	if (read_procs(jfd, &now, &nnow) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0 || !has_pid(now, nnow, pids[i]) ||
		    syscall(SYS_pidfd_send_signal, fds[i], sig, NULL, 0) < 0)
			continue;
		/* As systemd does: a stopped process acts on it at once. */
		if (sig == SIGTERM || sig == SIGHUP)
			syscall(SYS_pidfd_send_signal, fds[i], SIGCONT, NULL, 0);
	}
}

/* One pass over the group: every process not yet in done (sorted) gets
 * sig; they are added to done.  Returns how many were new.  done holds
 * distinct pids, so it never outgrows the kernel's pid_max. */
static size_t signal_pass(int jfd, pid_t skip, int sig, pid_t **done,
			  size_t *ndone)
{
	_cleanup_free_ pid_t *list = NULL;
	size_t n, fresh = 0;

	if (read_procs(jfd, &list, &n) < 0 || !n)
		return 0;
	pid_t *g = reallocarray(*done, *ndone + n, sizeof **done);
	if (!g)
		return 0;
	*done = g;
	for (size_t i = 0; i < n;) {
		pid_t bp[SIGNAL_BATCH];
		int bf[SIGNAL_BATCH];
		size_t k = 0;

		for (; i < n && k < SIGNAL_BATCH; i++) {
			if (list[i] == skip || has_pid(*done, *ndone, list[i]))
				continue;
			bp[k] = list[i];
			bf[k++] = (int)syscall(SYS_pidfd_open, list[i], 0);
		}
		signal_batch(jfd, bp, bf, k, sig);
		for (size_t b = 0; b < k; b++) {
			if (bf[b] >= 0)
				close(bf[b]);
			g[*ndone + fresh++] = bp[b];
		}
	}
	*ndone += fresh;
	qsort(*done, *ndone, sizeof **done, pid_cmp);
	return fresh;
}

int cg_signal(int jfd, pid_t skip, int sig)
{
	_cleanup_free_ pid_t *done = NULL;
	size_t ndone = 0;

	/* Again while a pass finds processes forked since the last one; a
	 * fork bomb is bounded by the passes (and pids.max). */
	for (int pass = 0; pass < SIGNAL_PASSES; pass++)
		if (!signal_pass(jfd, skip, sig, &done, &ndone))
			break;
	return (int)(ndone < INT32_MAX ? ndone : INT32_MAX);
}

int cg_populated(int jfd)
{
	char buf[512];

	if (read_at(jfd, "cgroup.events", buf, sizeof buf) < 0)
		return -1;
	return keyed(buf, "populated") ? 1 : 0;
}

int cg_remove(struct cg_root *cg, uid_t uid, const char *id)
{
	char uidname[16];
	_cleanup_close_ int ufd = -1;

	snprintf(uidname, sizeof uidname, "%u", (unsigned)uid);
	ufd = openat(cg->jobsfd, uidname, DIR_FLAGS);
	if (ufd < 0)
		return -1;
	return unlinkat(ufd, id, AT_REMOVEDIR);
}

int cg_open_job(struct cg_root *cg, uid_t uid, const char *id)
{
	char uidname[16];
	_cleanup_close_ int ufd = -1;

	snprintf(uidname, sizeof uidname, "%u", (unsigned)uid);
	ufd = openat(cg->jobsfd, uidname, DIR_FLAGS);
	return ufd < 0 ? -1 : openat(ufd, id, DIR_FLAGS);
}

bool cg_has_pid(int jfd, pid_t pid)
{
	_cleanup_close_ int fd = openat(jfd, "cgroup.procs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[4096];
	long cur = -1;
	ssize_t n;

	while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				cur = (cur < 0 ? 0 : cur) * 10 + (buf[i] - '0');
				if (cur > INT_MAX)
					return false;
				continue;
			}
			if (cur == pid)
				return true;
			cur = -1;
		}
	}
	return cur == pid;
}

/* Wait for a group to empty: cgroup.events signals POLLPRI on change. */
static void wait_empty(int jfd, int timeout_ms)
{
	_cleanup_close_ int efd = openat(jfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (cg_populated(jfd) == 1) {
		struct pollfd pfd = { .fd = efd, .events = POLLPRI };
		long left;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 +
				     (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || efd < 0)
			return;
		poll(&pfd, 1, left > 100 ? 100 : (int)left);
	}
}

/* A directory stream over a copy of fd.  The copy shares the directory
 * offset, which an earlier sweep left at the end: rewind. */
static DIR *dir_stream(int fd)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d;

	if (dfd < 0)
		return NULL;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

static int sweep_user(int ufd, int timeout_ms)
{
	_cleanup_closedir_ DIR *d = dir_stream(ufd);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_close_ int jfd = -1;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		jfd = openat(ufd, de->d_name, DIR_FLAGS);
		if (jfd < 0)
			continue;
		cg_kill(jfd, NULL);
		wait_empty(jfd, timeout_ms);
		if (unlinkat(ufd, de->d_name, AT_REMOVEDIR) == 0)
			n++;
	}
	return n;
}

int cg_sweep(struct cg_root *cg, int timeout_ms)
{
	_cleanup_closedir_ DIR *d = dir_stream(cg->jobsfd);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_close_ int ufd = -1;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		ufd = openat(cg->jobsfd, de->d_name, DIR_FLAGS);
		if (ufd >= 0)
			n += sweep_user(ufd, timeout_ms);
	}
	return n;
}
