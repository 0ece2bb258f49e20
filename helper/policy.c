#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
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
	/* login.defs' UID_MAX: above it live nobody (65534) and the
	 * dynamic and container ranges, never a person's account */
	p->max_uid = 60000;
	p->max_jobs = 64;
	for (unsigned id = 0; id < OPT_COUNT; id++)
		p->max[id] = UNBOUNDED;
	p->max_io_bps = p->max_io_iops = UNBOUNDED;
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
	if (!strcmp(k, "min_uid") || !strcmp(k, "max_uid") || !strcmp(k, "max_jobs")) {
		if (parse_u64(v, &n, e) < 0 || n > 0xfffffffeu || n == 0)
			return cerr_set(e, EINVAL, "helper.conf:%d: bad %s \"%s\"", line, k, v);
		if (!strcmp(k, "min_uid"))
			p->min_uid = (uid_t)n;
		else if (!strcmp(k, "max_uid"))
			p->max_uid = (uid_t)n;
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

/* A [limits] or [user] key: the run option whose policy key it is,
 * written as that option is (runopt.def), or one of the io bounds. */
static int limit_key(uint64_t *dst, bool user, const char *k, const char *v,
		     int line, struct cerr *e)
{
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		const struct runopt_def *d = &runopt_defs[id];
		struct runopts tmp = { 0 };

		if (!d->policy || strcmp(k, d->policy) || runopt_is_str(id) ||
		    (user && !(d->flags & OF_USER)))
			continue;
		if (runopt_parse(&tmp, id, v, e) < 0)
			return cerr_wrap(e, "helper.conf:%d: %s", line, k);
		dst[id] = tmp.u[id];
		return 0;
	}
	return cerr_set(e, EINVAL, "helper.conf:%d: unknown key \"%s\" in [%s]",
			line, k, user ? "user" : "limits");
}

static int io_key(struct policy *p, const char *k, const char *v, int line,
		  struct cerr *e)
{
	uint64_t *dst = !strcmp(k, "io_bps_max") ? &p->max_io_bps : &p->max_io_iops;
	int r = dst == &p->max_io_bps ? parse_size(v, dst, e) : parse_u64(v, dst, e);

	return r < 0 ? cerr_wrap(e, "helper.conf:%d: %s", line, k) : 0;
}

/* --- [network NAME] ---------------------------------------------------- */

/* A name the kernel takes as an interface name, and nothing that could
 * be read as a path or an option: [A-Za-z0-9_.-], 1 to 15, not "." or "..". */
static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAME_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int net_subnet(struct policy_net *n, const char *v, int line, struct cerr *e)
{
	char buf[32];
	const char *slash = strchr(v, '/');
	uint64_t pfx;

	if (!slash || (size_t)(slash - v) >= sizeof buf)
		return cerr_set(e, EINVAL, "helper.conf:%d: subnet \"%s\" is not A.B.C.D/N", line, v);
	memcpy(buf, v, (size_t)(slash - v));
	buf[slash - v] = '\0';
	if (parse_ipv4(buf, &n->subnet, e) < 0 || parse_u64(slash + 1, &pfx, e) < 0)
		return cerr_wrap(e, "helper.conf:%d: subnet", line);
	/* a /31 or /32 leaves no room for a job beside the gateway */
	if (pfx < 8 || pfx > 30)
		return cerr_set(e, ERANGE, "helper.conf:%d: subnet prefix /%llu is not 8 to 30",
				line, (unsigned long long)pfx);
	n->prefix = (unsigned)pfx;
	n->mask = ~0u << (32 - pfx);
	if (n->subnet & ~n->mask)
		return cerr_set(e, EINVAL, "helper.conf:%d: subnet \"%s\" has host bits set", line, v);
	return 0;
}

static int net_pool(struct policy_net *n, const char *v, int line, struct cerr *e)
{
	char buf[32];
	const char *dash = strchr(v, '-');

	if (!dash || (size_t)(dash - v) >= sizeof buf)
		return cerr_set(e, EINVAL, "helper.conf:%d: pool \"%s\" is not A.B.C.D-A.B.C.D", line, v);
	memcpy(buf, v, (size_t)(dash - v));
	buf[dash - v] = '\0';
	if (parse_ipv4(buf, &n->pool_lo, e) < 0 || parse_ipv4(dash + 1, &n->pool_hi, e) < 0)
		return cerr_wrap(e, "helper.conf:%d: pool", line);
	if (n->pool_lo > n->pool_hi)
		return cerr_set(e, EINVAL, "helper.conf:%d: pool \"%s\" ends before it starts", line, v);
	return 0;
}

/* users = alice, @builders, bob */
static int net_users(struct policy_net *n, const char *v, int line, struct cerr *e)
{
	char buf[CONF_LINE_MAX + 1], *save = NULL;

	snprintf(buf, sizeof buf, "%s", v);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		bool group = t[0] == '@';
		char (*dst)[USER_LEN_MAX] = group ? &n->groups[n->ngroups] : &n->users[n->nusers];
		unsigned *cnt = group ? &n->ngroups : &n->nusers;

		t += group;
		if (!*t || strlen(t) >= USER_LEN_MAX)
			return cerr_set(e, EINVAL, "helper.conf:%d: bad user or group \"%s\"", line, t);
		if (*cnt >= POLICY_NET_MEMBERS_MAX)
			return cerr_set(e, E2BIG, "helper.conf:%d: more than %d %s", line,
					POLICY_NET_MEMBERS_MAX, group ? "groups" : "users");
		strcpy(*dst, t);
		(*cnt)++;
	}
	return 0;
}

/* Each key once per network (a second [network NAME] header with the
 * same name, right after the first, continues it: this catches it);
 * users may be split over several lines. */
static int net_key_once(struct policy_net *n, const char *k, int line,
			struct cerr *e)
{
	static const char *const once[] = { "bridge", "subnet", "gateway", "pool",
					     "max_per_user", "antispoof" };

	for (unsigned i = 0; i < ARRAY_SIZE(once); i++) {
		if (strcmp(k, once[i]))
			continue;
		if (n->keys_set & (1u << i))
			return cerr_set(e, EEXIST, "helper.conf:%d: %s given twice in [network %s]",
					line, k, n->name);
		n->keys_set |= 1u << i;
	}
	return 0;
}

static int net_key(struct policy_net *n, const char *k, const char *v,
		   int line, struct cerr *e)
{
	uint64_t u;

	if (net_key_once(n, k, line, e) < 0)
		return -1;
	if (!strcmp(k, "bridge")) {
		if (!ifname_valid(v))
			return cerr_set(e, EINVAL, "helper.conf:%d: bridge \"%s\" is not an interface name", line, v);
		strcpy(n->bridge, v);
		return 0;
	}
	if (!strcmp(k, "subnet"))
		return net_subnet(n, v, line, e);
	if (!strcmp(k, "gateway"))
		return parse_ipv4(v, &n->gateway, e) < 0 ? cerr_wrap(e, "helper.conf:%d: gateway", line) : 0;
	if (!strcmp(k, "pool"))
		return net_pool(n, v, line, e);
	if (!strcmp(k, "users"))
		return net_users(n, v, line, e);
	if (!strcmp(k, "antispoof"))
		return parse_bool(v, &n->antispoof, e) < 0 ? cerr_wrap(e, "helper.conf:%d: antispoof", line) : 0;
	if (!strcmp(k, "max_per_user")) {
		if (parse_u64(v, &u, e) < 0 || u == 0 || u > POLICY_JOBS_MAX)
			return cerr_set(e, EINVAL, "helper.conf:%d: max_per_user \"%s\" is not 1 to %d",
					line, v, POLICY_JOBS_MAX);
		n->max_per_user = (unsigned)u;
		return 0;
	}
	return cerr_set(e, EINVAL, "helper.conf:%d: unknown key \"%s\" in [network %s]", line, k, n->name);
}

int policy_net_find(const struct policy *p, const char *name)
{
	for (unsigned i = 0; i < p->nnets; i++)
		if (!strcmp(p->nets[i].name, name))
			return (int)i;
	return -1;
}

/* The section header "network NAME" makes the network; its keys follow. */
static int network_section(struct policy *p, const char *name, const char *k,
			   const char *v, int line, struct cerr *e)
{
	struct policy_net *n = p->nnets ? &p->nets[p->nnets - 1] : NULL;

	if (!n || strcmp(n->name, name)) {
		if (!net_name_valid(name))
			return cerr_set(e, EINVAL, "helper.conf:%d: \"%s\" is not a network name (a-z, 0-9, _-., at most %d)",
					line, name, NET_NAME_MAX);
		if (policy_net_find(p, name) >= 0)
			return cerr_set(e, EEXIST, "helper.conf:%d: [network %s] given twice", line, name);
		if (p->nnets >= POLICY_NETS_MAX)
			return cerr_set(e, E2BIG, "helper.conf:%d: more than %d networks", line, POLICY_NETS_MAX);
		n = &p->nets[p->nnets++];
		strcpy(n->name, name);
		n->max_per_user = 16;
		n->antispoof = true;
	}
	return net_key(n, k, v, line, e);
}

/* Every address a job may get is a host of the subnet, and none is the
 * gateway: the pool cannot hand out what would break the network. */
static int net_complete(const struct policy_net *n, struct cerr *e)
{
	uint32_t bcast = n->subnet | ~n->mask;

	if (!n->bridge[0] || !n->prefix || !n->pool_lo)
		return cerr_set(e, EINVAL, "helper.conf: [network %s] needs bridge, subnet and pool", n->name);
	if ((n->pool_lo & n->mask) != n->subnet || (n->pool_hi & n->mask) != n->subnet ||
	    n->pool_lo == n->subnet || n->pool_hi == bcast)
		return cerr_set(e, EINVAL, "helper.conf: [network %s] pool is not within the subnet's hosts", n->name);
	if (n->gateway && ((n->gateway & n->mask) != n->subnet ||
			   n->gateway == n->subnet || n->gateway == bcast))
		return cerr_set(e, EINVAL, "helper.conf: [network %s] gateway is not a host of the subnet", n->name);
	if (n->gateway >= n->pool_lo && n->gateway <= n->pool_hi)
		return cerr_set(e, EINVAL, "helper.conf: [network %s] pool holds the gateway", n->name);
	return 0;
}

int net_member_check(const struct policy_net *n, const char *user,
		     const gid_t *gids, int ngids, struct cerr *e)
{
	for (unsigned i = 0; i < n->nusers; i++)
		if (!strcmp(n->users[i], user))
			return 0;
	for (unsigned i = 0; i < n->ngroups; i++)
		for (int g = 0; g < ngids; g++)
			if (n->gids[i] == gids[g])
				return 0;
	return cerr_set(e, EPERM, "network \"%s\": user %s may not use it (the policy's users)",
			n->name, user);
}

const char *fmt_ipv4(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static bool taken_has(const uint32_t *taken, size_t ntaken, uint32_t a)
{
	for (size_t i = 0; i < ntaken; i++)
		if (taken[i] == a)
			return true;
	return false;
}

int net_pick(const struct policy_net *n, uint32_t want,
	     const uint32_t *taken, size_t ntaken, unsigned user_holds,
	     uint32_t *out, struct cerr *e)
{
	char a[16], lo[16], hi[16];

	if (user_holds >= n->max_per_user)
		return cerr_set(e, EDQUOT, "network \"%s\": you hold %u addresses already, the policy's max_per_user",
				n->name, user_holds);
	if (want) {
		if (want < n->pool_lo || want > n->pool_hi)
			return cerr_set(e, EPERM, "network \"%s\": %s is outside the pool %s-%s",
					n->name, fmt_ipv4(want, a, sizeof a),
					fmt_ipv4(n->pool_lo, lo, sizeof lo), fmt_ipv4(n->pool_hi, hi, sizeof hi));
		if (taken_has(taken, ntaken, want))
			return cerr_set(e, EADDRINUSE, "network \"%s\": %s is taken by another job",
					n->name, fmt_ipv4(want, a, sizeof a));
		*out = want;
		return 0;
	}
	for (uint64_t c = n->pool_lo; c <= n->pool_hi; c++)
		if (!taken_has(taken, ntaken, (uint32_t)c)) {
			*out = (uint32_t)c;
			return 0;
		}
	return cerr_set(e, EADDRNOTAVAIL, "network \"%s\": every address of the pool is taken", n->name);
}

static int conf_cb(void *ctx, const char *section, const char *k,
		   const char *v, int line, struct cerr *e)
{
	struct policy *p = ctx;

	if (!strcmp(section, "helper"))
		return helper_key(p, k, v, line, e);
	if (!strcmp(section, "limits")) {
		if (!strcmp(k, "io_bps_max") || !strcmp(k, "io_iops_max"))
			return io_key(p, k, v, line, e);
		return limit_key(p->max, false, k, v, line, e);
	}
	if (!strcmp(section, "user"))
		return limit_key(p->user, true, k, v, line, e);
	if (!strncmp(section, "network ", 8))
		return network_section(p, section + 8, k, v, line, e);
	return cerr_set(e, EINVAL, "helper.conf:%d: unknown section [%s]", line, section);
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
	if (p->max_uid < p->min_uid)
		return cerr_set(e, EINVAL, "helper.conf: max_uid %u is below min_uid %u",
				(unsigned)p->max_uid, (unsigned)p->min_uid);
	for (unsigned i = 0; i < p->nnets; i++)
		if (net_complete(&p->nets[i], e) < 0)
			return -1;
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

/* Root's, and writable by nobody else (sticky_ok: unless sticky, a
 * directory like /tmp, where nobody else can rename root's entries). */
static int safe_owner(int fd, const char *what, bool sticky_ok, struct cerr *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return cerr_sys(e, "stat %s", what);
	if (st.st_uid != 0)
		return cerr_set(e, EPERM, "%s is not owned by root", what);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st.st_mode & S_ISVTX)))
		return cerr_set(e, EPERM, "%s is group or world writable", what);
	return 0;
}

/* Every directory above the policy file must be root's alone too, or
 * someone could swap the file (sticky_ok: or root's and sticky). */
static int check_parents(const char *path, bool sticky_ok, struct cerr *e)
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
		if (fd < 0 || safe_owner(fd, dir, sticky_ok, e) < 0)
			return -1;
		if (slash == dir)
			return 0;
	}
}

/* A group the admin named that does not exist is a mistake to show at
 * start-up, not a network that silently admits nobody. */
static int resolve_net_groups(struct policy *p, struct cerr *e)
{
	for (unsigned i = 0; i < p->nnets; i++) {
		struct policy_net *n = &p->nets[i];
		for (unsigned g = 0; g < n->ngroups; g++) {
			struct group gr, *res = NULL;
			char buf[16384];
			if (getgrnam_r(n->groups[g], &gr, buf, sizeof buf, &res) != 0 || !res)
				return cerr_set(e, ENOENT, "[network %s]: group \"%s\" does not exist",
						n->name, n->groups[g]);
			n->gids[g] = gr.gr_gid;
		}
	}
	return 0;
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
	if (check_parents(path, false, e) < 0)
		return -1;
	fd = open_nofollow(path, O_RDONLY, e);
	if (fd < 0 || safe_owner(fd, path, false, e) < 0)
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
	if (resolve_net_groups(p, e) < 0)
		return -1;
	/* A rootfs that is missing or unsafe now only fails the jobs that
	 * ask for it; it must not take the whole service down. */
	for (unsigned i = 0; i < p->nrootfs; i++) {
		struct policy_rootfs *rf = &p->rootfs[i];
		struct cerr re;
		_cleanup_close_ int rfd = open_nofollow(rf->path, O_PATH | O_DIRECTORY, &re);
		struct stat st;

		if (rfd < 0 || safe_owner(rfd, rf->path, false, &re) < 0) {
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

static int check_io(const struct policy *p, struct start_req *r, struct cerr *e)
{
	for (size_t i = 0; i < r->opt.nio; i++) {
		struct io_limit *l = &r->opt.io[i];
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
			if (r->opt.io[j].major == l->major && r->opt.io[j].minor == l->minor)
				return cerr_set(e, EINVAL, "io_limit: device %u:%u given twice",
						l->major, l->minor);
	}
	return 0;
}

/* Each option within the table's bounds and its policy bound.  An
 * option the request leaves unset would be unlimited, so a bounded
 * OF_FILL option gets its bound. */
static int check_opts(const struct policy *p, const struct wire_msg *m,
		      struct start_req *r, struct cerr *e)
{
	runopts_get(m, &r->opt);
	if (runopts_check(&r->opt, e) < 0)
		return -1;
	for (unsigned id = 0; id < OPT_COUNT; id++) {
		if (p->max[id] == UNBOUNDED)
			continue;
		if (runopt_has(&r->opt, id)) {
			if (check_bound(runopt_defs[id].name, r->opt.u[id], p->max[id], e) < 0)
				return -1;
		} else if (runopt_defs[id].flags & OF_FILL) {
			r->opt.set |= 1u << id;
			r->opt.u[id] = p->max[id];
		}
	}
	return check_io(p, r, e);
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

static int job_ref(const struct wire_msg *m, const char **id, struct cerr *e)
{
	*id = wire_str(m, F_JOB_ID);
	if (!job_id_valid(*id))
		return cerr_set(e, EINVAL, "job_id is not a lower-case UUID");
	return 0;
}

static int check_identity(const struct policy *p, const struct wire_msg *m,
			  struct start_req *r, struct cerr *e)
{
	if (job_ref(m, &r->job_id, e) < 0)
		return -1;
	r->uid = wire_u32(m, F_UID, 0);
	if (r->uid == 0 && !p->allow_root_jobs)
		return cerr_set(e, EPERM, "uid 0: jobs may not run as root");
	if (r->uid != 0 && r->uid < p->min_uid)
		return cerr_set(e, EPERM, "uid %u is below the lowest allowed uid %u",
				(unsigned)r->uid, (unsigned)p->min_uid);
	if (r->uid > p->max_uid)
		return cerr_set(e, EPERM, "uid %u is above the highest allowed uid %u (max_uid)",
				(unsigned)r->uid, (unsigned)p->max_uid);
	if (r->uid == p->manager_uid)
		return cerr_set(e, EPERM, "uid %u is the manager user", (unsigned)r->uid);
	return 0;
}

/* --network names a network of the policy; the address, if given, is
 * checked against its pool when it is reserved (net_pick). */
static int check_network(const struct policy *p, struct start_req *r,
			 struct cerr *e)
{
	char name[NET_NAME_MAX + 1];

	r->net_idx = -1;
	r->net_want = 0;
	if (!runopt_has(&r->opt, OPT_NETWORK))
		return 0;
	if (r->ns_off & NS_NET)
		return cerr_set(e, EINVAL, "network needs the network namespace");
	if (parse_netref(r->opt.s[OPT_NETWORK], name, &r->net_want, e) < 0)
		return cerr_wrap(e, "network");
	r->net_idx = policy_net_find(p, name);
	if (r->net_idx < 0)
		return cerr_set(e, EPERM, "network \"%s\" is not in the policy", name);
	return 0;
}

static int check_isolation(const struct policy *p, struct start_req *r,
			   uint32_t ns_off, struct cerr *e)
{
	const char *rootfs = r->opt.s[OPT_ROOTFS];

	r->ns_off = ns_off;
	for (size_t i = 0; i < ARRAY_SIZE(ns_keys); i++)
		if (r->ns_off & ~p->ns_may_off & ns_keys[i].bit)
			return cerr_set(e, EPERM, "ns_off: the policy does not allow turning off the %s namespace",
					ns_keys[i].key + strlen("allow_no_"));
	if (runopt_has(&r->opt, OPT_PRIVATE_TMP) && (r->ns_off & NS_MNT))
		return cerr_set(e, EINVAL, "private_tmp needs a mount namespace");
	if (check_network(p, r, e) < 0)
		return -1;
	r->rootfs_idx = -1;
	if (!runopt_has(&r->opt, OPT_ROOTFS))
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

/* The fds START carries are exactly what its options ask for: the
 * write ends of two pipes (stdout, stderr), and with -i the read end of
 * a third (stdin); none with -t, whose terminal the init makes itself
 * (docs/tty.md).  corrald could hand the job any fd of its own, so each
 * is checked to be what it claims. */
static int check_stdio(const struct wire_msg *m, const struct start_req *r,
		       struct cerr *e)
{
	static const char *const what[] = { "stdout", "stderr", "stdin" };
	bool tty = runopt_has(&r->opt, OPT_TTY);
	unsigned want = tty ? 0 : runopt_has(&r->opt, OPT_INTERACTIVE) ? 3 : 2;

	if (tty && (r->ns_off & NS_MNT))
		return cerr_set(e, EINVAL, "tty needs a mount namespace");
	if (m->nfds != want)
		return cerr_set(e, EINVAL, "START carries %u fds; its options need %u",
				m->nfds, want);
	for (unsigned i = 0; i < want; i++) {
		int acc = i < 2 ? O_WRONLY : O_RDONLY;
		int fl = fcntl(m->fds[i], F_GETFL);
		struct stat st;

		if (fstat(m->fds[i], &st) < 0 || !S_ISFIFO(st.st_mode) ||
		    fl < 0 || (fl & O_ACCMODE) != acc)
			return cerr_set(e, EINVAL, "START: the %s fd is not a pipe's %s end",
					what[i], i < 2 ? "write" : "read");
	}
	return 0;
}

int start_check(const struct policy *p, const struct wire_msg *m,
		union request *u, struct cerr *e)
{
	struct start_req *r = &u->start;

	memset(r, 0, sizeof *r);
	if (m->type != H_START)
		return cerr_set(e, EINVAL, "not a START");
	if (check_identity(p, m, r, e) < 0)
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
	r->rows = (unsigned short)wire_u32(m, F_ROWS, 0);	/* bounded by proto.c */
	r->cols = (unsigned short)wire_u32(m, F_COLS, 0);
	r->cwd = wire_str(m, F_CWD);
	if (r->cwd[0] != '/') {
		start_req_free(r);
		return cerr_set(e, EINVAL, "cwd \"%s\" is not absolute", r->cwd);
	}
	if (check_env(r, e) < 0 || check_opts(p, m, r, e) < 0 ||
	    check_isolation(p, r, wire_u32(m, F_NS_OFF, 0), e) < 0 ||
	    check_stdio(m, r, e) < 0) {
		start_req_free(r);
		return -1;
	}
	return 0;
}

int signal_check(const struct policy *p, const struct wire_msg *m,
		 union request *u, struct cerr *e)
{
	int sig = (int)wire_u32(m, F_SIGNAL, 0);
	bool fg = wire_u32(m, F_FOREGROUND, 0);

	memset(&u->sig, 0, sizeof u->sig);
	if (job_ref(m, &u->sig.job_id, e) < 0 || signal_check_sig(sig, fg, e) < 0)
		return -1;
	u->sig.sig = sig;
	u->sig.foreground = fg;
	return 0;
}

int kill_check(const struct policy *p, const struct wire_msg *m,
	       union request *u, struct cerr *e)
{
	memset(&u->sig, 0, sizeof u->sig);
	return job_ref(m, &u->sig.job_id, e);
}

int hello_check(const struct policy *p, const struct wire_msg *m,
		union request *u, struct cerr *e)
{
	(void)p;
	(void)e;
	u->version = wire_u32(m, F_R_LINK_VERSION, 1);
	return 0;
}

int reexec_check(const struct policy *p, const struct wire_msg *m,
		 union request *u, struct cerr *e)
{
	(void)p;
	(void)m;
	(void)u;
	(void)e;
	return 0;
}

int jobs_check(const struct policy *p, const struct wire_msg *m,
	       union request *u, struct cerr *e)
{
	return reexec_check(p, m, u, e);
}

int exec_path_open(const char *path, struct cerr *e)
{
	struct stat st;
	int fd;

	if (path[0] != '/')
		return cerr_set(e, EINVAL, "binary path %.200s is not absolute", path);
	if (check_parents(path, true, e) < 0)
		return -1;
	fd = open_nofollow(path, O_PATH, e);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    !(st.st_mode & S_ISUID) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return cerr_set(e, EPERM, "%.200s is not a root-owned setuid binary only root may write",
				path);
	}
	return fd;
}

int capacity_check(const struct policy *p, unsigned running, struct cerr *e)
{
	if (running >= p->max_jobs)
		return cerr_set(e, EAGAIN, "too many jobs: the policy allows %u at once",
				p->max_jobs);
	return 0;
}

unsigned start_controllers(const struct start_req *r)
{
	unsigned c = r->opt.nio ? CTRL_IO : 0;

	for (unsigned id = 0; id < OPT_COUNT; id++)
		if (runopt_has(&r->opt, id))
			c |= runopt_defs[id].ctrl;
	return c;
}

unsigned user_controllers(const struct policy *p)
{
	unsigned c = 0;

	for (unsigned id = 0; id < OPT_COUNT; id++)
		if (p->user[id])
			c |= runopt_defs[id].ctrl;
	return c;
}

int controllers_check(unsigned available, unsigned need,
		      const char *avail_text, struct cerr *e)
{
	for (unsigned b = 1; b <= CTRL_ALL; b <<= 1)
		if ((need & b) && !(available & b))
			return cerr_set(e, EOPNOTSUPP,
					"the %s controller is not available in the job cgroup base (available: \"%s\")",
					ctrl_name(b), avail_text);
	return 0;
}

unsigned controllers_parse(const char *line)
{
	char buf[256], *save = NULL;
	unsigned bits = 0;

	snprintf(buf, sizeof buf, "%s", line);
	for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		for (unsigned b = 1; b <= CTRL_ALL; b <<= 1)
			if (!strcmp(t, ctrl_name(b)))
				bits |= b;
	return bits;
}
