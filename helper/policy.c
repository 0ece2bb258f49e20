#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "conf.h"
#include "parse.h"

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof *p);
	p->manager_uid = (uid_t)-1;
	p->min_uid = 1000;
	p->max_jobs = 64;
	p->max_memory = p->max_swap = p->max_cpu_quota = UNBOUNDED;
	p->max_pids = p->max_io_bps = p->max_io_iops = UNBOUNDED;
}

static int set_path(char *dst, size_t cap, const char *v, const char *key,
		    int line, struct cerr *e)
{
	if (v[0] != '/' || strlen(v) >= cap || strstr(v, "/../") ||
	    strstr(v, "/./") || strstr(v, "//") ||
	    (strlen(v) >= 3 && !strcmp(v + strlen(v) - 3, "/..")))
		return cerr_set(e, EINVAL,
				"helper.conf:%d: %s must be a clean absolute path",
				line, key);
	strcpy(dst, v);
	return 0;
}

static const struct {
	const char *key;
	uint32_t bit;
} ns_keys[] = {
	{ "allow_no_net", NS_NET }, { "allow_no_pid", NS_PID },
	{ "allow_no_mnt", NS_MNT }, { "allow_no_uts", NS_UTS },
	{ "allow_no_ipc", NS_IPC },
};

static int helper_key(struct policy *p, const char *k, const char *v,
		      int line, struct cerr *e)
{
	uint64_t n;
	bool b;

	if (!strcmp(k, "manager_user")) {
		if (!*v || strlen(v) >= sizeof p->manager_user)
			return cerr_set(e, EINVAL, "helper.conf:%d: bad manager_user", line);
		strcpy(p->manager_user, v);
		return 0;
	}
	if (!strcmp(k, "cgroup_base")) {
		if (!strcmp(v, "self")) {
			strcpy(p->cgroup_base, v);
			return 0;
		}
		return set_path(p->cgroup_base, sizeof p->cgroup_base, v, k, line, e);
	}
	if (!strcmp(k, "rootfs")) {
		if (p->nrootfs >= POLICY_ROOTFS_MAX)
			return cerr_set(e, E2BIG, "helper.conf:%d: more than %d rootfs entries",
					line, POLICY_ROOTFS_MAX);
		return set_path(p->rootfs[p->nrootfs++].path, PATH_LEN_MAX, v, k, line, e);
	}
	if (!strcmp(k, "min_uid") || !strcmp(k, "max_jobs")) {
		if (parse_u64(v, &n, e) < 0 || n > 0xfffffffeu || n == 0)
			return cerr_set(e, EINVAL, "helper.conf:%d: bad %s \"%s\"", line, k, v);
		if (k[1] == 'i')
			p->min_uid = (uid_t)n;
		else if (n > POLICY_JOBS_MAX)
			return cerr_set(e, ERANGE, "helper.conf:%d: max_jobs above %d", line, POLICY_JOBS_MAX);
		else
			p->max_jobs = (unsigned)n;
		return 0;
	}
	if (!strcmp(k, "allow_root_jobs")) {
		if (parse_bool(v, &p->allow_root_jobs, e) < 0)
			return cerr_wrap(e, "helper.conf:%d: %s", line, k);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_keys); i++) {
		if (strcmp(k, ns_keys[i].key))
			continue;
		if (parse_bool(v, &b, e) < 0)
			return cerr_wrap(e, "helper.conf:%d: %s", line, k);
		if (b)
			p->ns_may_off |= ns_keys[i].bit;
		return 0;
	}
	return cerr_set(e, EINVAL, "helper.conf:%d: unknown key \"%s\" in [helper]", line, k);
}

/* [limits] and [user] share value syntax: sizes, cpus, counts. */
static int limit_value(const char *k, const char *v, uint64_t *out,
		       int line, struct cerr *e)
{
	int r;

	if (!strcmp(k, "cpus"))
		r = parse_cpus(v, out, e);
	else if (!strcmp(k, "pids_max") || !strcmp(k, "io_iops_max"))
		r = parse_u64(v, out, e);
	else
		r = parse_size(v, out, e);
	return r < 0 ? cerr_wrap(e, "helper.conf:%d: %s", line, k) : 0;
}

static int conf_cb(void *ctx, const char *section, const char *k,
		   const char *v, int line, struct cerr *e)
{
	struct policy *p = ctx;
	static const char *lim_keys[] = { "memory_max", "memory_swap_max", "cpus",
					  "pids_max", "io_bps_max", "io_iops_max" };
	static const char *user_keys[] = { "memory_max", "pids_max", "cpus" };

	if (!strcmp(section, "helper"))
		return helper_key(p, k, v, line, e);
	if (!strcmp(section, "limits")) {
		uint64_t *dst[] = { &p->max_memory, &p->max_swap, &p->max_cpu_quota,
				    &p->max_pids, &p->max_io_bps, &p->max_io_iops };
		for (size_t i = 0; i < ARRAY_SIZE(lim_keys); i++)
			if (!strcmp(k, lim_keys[i]))
				return limit_value(k, v, dst[i], line, e);
	} else if (!strcmp(section, "user")) {
		uint64_t *dst[] = { &p->user_memory, &p->user_pids, &p->user_cpu_quota };
		for (size_t i = 0; i < ARRAY_SIZE(user_keys); i++)
			if (!strcmp(k, user_keys[i]))
				return limit_value(k, v, dst[i], line, e);
	} else {
		return cerr_set(e, EINVAL, "helper.conf:%d: unknown section [%s]", line, section);
	}
	return cerr_set(e, EINVAL, "helper.conf:%d: unknown key \"%s\" in [%s]", line, k, section);
}

int policy_parse(const char *buf, size_t len, struct policy *p,
		 struct cerr *e)
{
	policy_defaults(p);
	if (conf_parse(buf, len, "helper.conf", conf_cb, p, e) < 0)
		return -1;
	if (!p->manager_user[0])
		return cerr_set(e, EINVAL, "helper.conf: manager_user is required");
	if (!p->cgroup_base[0])
		return cerr_set(e, EINVAL, "helper.conf: cgroup_base is required");
	if (!strcmp(p->cgroup_base, "/"))
		return cerr_set(e, EINVAL, "helper.conf: cgroup_base may not be the cgroup root");
	return 0;
}

int open_nofollow(const char *path, int flags, struct cerr *e)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);

	if (fd < 0)
		return cerr_sys(e, "open %s", path);
	return fd;
}

static int safe_owner(int fd, const char *what, struct cerr *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return cerr_sys(e, "stat %s", what);
	if (st.st_uid != 0)
		return cerr_set(e, EPERM, "%s is not owned by root", what);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return cerr_set(e, EPERM, "%s is group or world writable", what);
	return 0;
}

/* Every directory above the policy file must be root's alone too, or
 * someone could swap the file. */
static int check_parents(const char *path, struct cerr *e)
{
	char dir[PATH_LEN_MAX];
	size_t n = strlen(path);

	if (n >= sizeof dir)
		return cerr_set(e, ENAMETOOLONG, "policy path too long");
	memcpy(dir, path, n + 1);
	for (;;) {
		char *slash = strrchr(dir, '/');
		_cleanup_close_ int fd = -1;
		if (!slash)
			return 0;
		slash[slash == dir ? 1 : 0] = '\0';
		fd = open_nofollow(dir, O_PATH | O_DIRECTORY, e);
		if (fd < 0 || safe_owner(fd, dir, e) < 0)
			return -1;
		if (slash == dir)
			return 0;
	}
}

int policy_load(const char *path, struct policy *p, struct cerr *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = malloc(CONF_FILE_MAX + 1);
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	ssize_t n;

	if (!buf)
		return cerr_sys(e, "policy");
	if (check_parents(path, e) < 0)
		return -1;
	fd = open_nofollow(path, O_RDONLY, e);
	if (fd < 0 || safe_owner(fd, path, e) < 0)
		return -1;
	n = read(fd, buf, CONF_FILE_MAX + 1);
	if (n < 0)
		return cerr_sys(e, "read %s", path);
	if (n > CONF_FILE_MAX)
		return cerr_set(e, EFBIG, "%s is larger than %d bytes", path, CONF_FILE_MAX);
	if (policy_parse(buf, (size_t)n, p, e) < 0)
		return -1;
	if (getpwnam_r(p->manager_user, &pw, pwbuf, sizeof pwbuf, &res) != 0 || !res)
		return cerr_set(e, ENOENT, "manager_user \"%s\" does not exist", p->manager_user);
	p->manager_uid = pw.pw_uid;
	/* A rootfs that is missing or unsafe now only fails the jobs that
	 * ask for it; it must not take the whole service down. */
	for (unsigned i = 0; i < p->nrootfs; i++) {
		struct policy_rootfs *rf = &p->rootfs[i];
		struct cerr re;
		_cleanup_close_ int rfd = open_nofollow(rf->path, O_PATH | O_DIRECTORY, &re);
		struct stat st;

		if (rfd < 0 || safe_owner(rfd, rf->path, &re) < 0) {
			snprintf(rf->why, sizeof rf->why, "%.120s", re.msg);
			continue;
		}
		if (fstat(rfd, &st) < 0) {
			snprintf(rf->why, sizeof rf->why, "stat failed");
			continue;
		}
		rf->dev = st.st_dev;
		rf->ino = st.st_ino;
		rf->ok = true;
	}
	return 0;
}

void start_req_free(struct start_req *r)
{
	free(r->argv);
	free(r->envp);
	r->argv = r->envp = NULL;
}

static int check_bound(const char *field, uint64_t v, uint64_t max,
		       struct cerr *e)
{
	if (v > max)
		return cerr_set(e, EPERM, "%s %llu is above the policy's bound %llu",
				field, (unsigned long long)v, (unsigned long long)max);
	return 0;
}

static int check_limits(const struct policy *p, const struct wire_msg *m,
			struct start_req *r, struct cerr *e)
{
	r->has_mem = wire_has(m, F_MEM_MAX);
	r->mem_max = wire_u64(m, F_MEM_MAX, 0);
	r->has_swap = wire_has(m, F_SWAP_MAX);
	r->swap_max = wire_u64(m, F_SWAP_MAX, 0);
	r->has_cpu = wire_has(m, F_CPU_QUOTA);
	r->cpu_quota = wire_u64(m, F_CPU_QUOTA, 0);
	r->has_pids = wire_has(m, F_PIDS_MAX);
	r->pids_max = wire_u64(m, F_PIDS_MAX, 0);
	if ((r->has_mem && check_bound("memory_max", r->mem_max, p->max_memory, e) < 0) ||
	    (r->has_swap && check_bound("memory_swap_max", r->swap_max, p->max_swap, e) < 0) ||
	    (r->has_cpu && check_bound("cpu_quota_usec", r->cpu_quota, p->max_cpu_quota, e) < 0) ||
	    (r->has_pids && check_bound("pids_max", r->pids_max, p->max_pids, e) < 0))
		return -1;
	/* Without an explicit limit a job could exceed a policy bound. */
	if (!r->has_mem && p->max_memory != UNBOUNDED)
		r->has_mem = true, r->mem_max = p->max_memory;
	if (!r->has_cpu && p->max_cpu_quota != UNBOUNDED)
		r->has_cpu = true, r->cpu_quota = p->max_cpu_quota;
	if (!r->has_pids && p->max_pids != UNBOUNDED)
		r->has_pids = true, r->pids_max = p->max_pids;
	if (!r->has_swap && p->max_swap != UNBOUNDED)
		r->has_swap = true, r->swap_max = p->max_swap;
	r->cpuset_cpus = wire_str(m, F_CPUSET_CPUS);
	r->cpuset_mems = wire_str(m, F_CPUSET_MEMS);
	if (r->cpuset_cpus && !cpuset_valid(r->cpuset_cpus))
		return cerr_set(e, EINVAL, "cpuset_cpus \"%s\" is not a CPU list", r->cpuset_cpus);
	if (r->cpuset_mems && !cpuset_valid(r->cpuset_mems))
		return cerr_set(e, EINVAL, "cpuset_mems \"%s\" is not a node list", r->cpuset_mems);
	r->nio = wire_count(m, F_IO_LIMIT);
	for (size_t i = 0; i < r->nio; i++) {
		struct io_limit *l = &r->io[i];
		io_limit_decode(wire_nth(m, F_IO_LIMIT, i)->p, l);
		if (l->major > 0xfff || l->minor > 0xfffff)
			return cerr_set(e, EINVAL, "io_limit[%zu] device %u:%u is not valid",
					i, l->major, l->minor);
		if (!l->rbps && !l->wbps && !l->riops && !l->wiops)
			return cerr_set(e, EINVAL, "io_limit[%zu] sets no limit", i);
		if (check_bound("io_limit rbps", l->rbps, p->max_io_bps, e) < 0 ||
		    check_bound("io_limit wbps", l->wbps, p->max_io_bps, e) < 0 ||
		    check_bound("io_limit riops", l->riops, p->max_io_iops, e) < 0 ||
		    check_bound("io_limit wiops", l->wiops, p->max_io_iops, e) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (r->io[j].major == l->major && r->io[j].minor == l->minor)
				return cerr_set(e, EINVAL, "io_limit: device %u:%u given twice",
						l->major, l->minor);
	}
	return 0;
}

static int check_env(const struct start_req *r, struct cerr *e)
{
	for (size_t i = 0; i < r->envc; i++) {
		const char *eq = strchr(r->envp[i], '=');
		if (!eq || eq == r->envp[i])
			return cerr_set(e, EINVAL, "env[%zu] is not KEY=VALUE", i);
	}
	return 0;
}

static int check_identity(const struct policy *p, const struct wire_msg *m,
			  struct start_req *r, struct cerr *e)
{
	r->job_id = wire_str(m, F_JOB_ID);
	if (!job_id_valid(r->job_id))
		return cerr_set(e, EINVAL, "job_id is not a lower-case UUID");
	r->uid = wire_u32(m, F_UID, 0);
	if (r->uid == 0 && !p->allow_root_jobs)
		return cerr_set(e, EPERM, "uid 0: jobs may not run as root");
	if (r->uid != 0 && r->uid < p->min_uid)
		return cerr_set(e, EPERM, "uid %u is below the lowest allowed uid %u",
				(unsigned)r->uid, (unsigned)p->min_uid);
	if (r->uid == p->manager_uid)
		return cerr_set(e, EPERM, "uid %u is the manager user", (unsigned)r->uid);
	return 0;
}

static int check_isolation(const struct policy *p, const struct wire_msg *m,
			   struct start_req *r, struct cerr *e)
{
	const char *rootfs = wire_str(m, F_ROOTFS);

	r->ns_off = wire_u32(m, F_NS_OFF, 0);
	for (size_t i = 0; i < ARRAY_SIZE(ns_keys); i++)
		if (r->ns_off & ~p->ns_may_off & ns_keys[i].bit)
			return cerr_set(e, EPERM, "ns_off: the policy does not allow turning off the %s namespace",
					ns_keys[i].key + strlen("allow_no_"));
	r->rootfs_idx = -1;
	if (!rootfs)
		return 0;
	if (r->ns_off & NS_MNT)
		return cerr_set(e, EINVAL, "rootfs needs a mount namespace");
	for (unsigned i = 0; i < p->nrootfs; i++)
		if (!strcmp(p->rootfs[i].path, rootfs))
			r->rootfs_idx = (int)i;
	if (r->rootfs_idx < 0)
		return cerr_set(e, EPERM, "rootfs \"%s\" is not allowed by the policy", rootfs);
	return 0;
}

int start_check(const struct policy *p, const struct wire_msg *m,
		struct start_req *r, struct cerr *e)
{
	memset(r, 0, sizeof *r);
	if (m->type != H_START)
		return cerr_set(e, EINVAL, "not a START");
	if (check_identity(p, m, r, e) < 0 || check_isolation(p, m, r, e) < 0)
		return -1;
	r->argv = wire_strv(m, F_ARGV, &r->argc);
	r->envp = wire_strv(m, F_ENV, &r->envc);
	if (!r->argv || !r->envp) {
		start_req_free(r);
		return cerr_sys(e, "START");
	}
	if (r->argc < 1 || !r->argv[0][0]) {
		start_req_free(r);
		return cerr_set(e, EINVAL, "argv[0] is missing or empty");
	}
	r->cwd = wire_str(m, F_CWD);
	if (r->cwd[0] != '/') {
		start_req_free(r);
		return cerr_set(e, EINVAL, "cwd \"%s\" is not absolute", r->cwd);
	}
	if (check_env(r, e) < 0 || check_limits(p, m, r, e) < 0) {
		start_req_free(r);
		return -1;
	}
	return 0;
}

unsigned start_controllers(const struct start_req *r)
{
	unsigned c = 0;

	if (r->has_mem || r->has_swap)
		c |= CG_MEMORY;
	if (r->has_cpu)
		c |= CG_CPU;
	if (r->has_pids)
		c |= CG_PIDS;
	if (r->nio)
		c |= CG_IO;
	if (r->cpuset_cpus || r->cpuset_mems)
		c |= CG_CPUSET;
	return c;
}

const char *controller_name(unsigned bit)
{
	switch (bit) {
	case CG_CPU: return "cpu";
	case CG_MEMORY: return "memory";
	case CG_IO: return "io";
	case CG_PIDS: return "pids";
	case CG_CPUSET: return "cpuset";
	}
	return "?";
}
