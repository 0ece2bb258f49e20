/* Suite-wide state: throw-away users and groups, directories, the base
 * cgroup and the policy file; and the cleanup that removes all of it,
 * run from the group teardown and again from atexit. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

struct suite S;

long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* fork+execv with stdout (and stderr if quiet) on /dev/null; never a
 * shell, so names cannot be misread. */
static int run_argv(const char *const argv[], bool quiet)
{
	int st;
	pid_t p = fork();

	if (p < 0)
		return -1;
	if (p == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		if (quiet)
			dup2(nul, 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void pathf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n) {
		fprintf(stderr, "harness: path too long: %s\n", dst);
		abort();
	}
}

int run_cmd(const char *const argv[])
{
	return run_argv(argv, false);
}

static unsigned rand16(void)
{
	uint16_t v = 0;
	if (getrandom(&v, sizeof v, 0) != sizeof v)
		v = (uint16_t)(getpid() ^ now_ms());
	return v;
}

void make_uuid(char out[37])
{
	uint8_t b[16];
	if (getrandom(b, sizeof b, 0) != sizeof b)
		abort();
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int make_users(void)
{
	unsigned r = rand16();
	struct passwd *pw;
	struct group *gr;

	snprintf(S.mgr, sizeof S.mgr, "crlt-mgr-%04x", r);
	snprintf(S.job, sizeof S.job, "crlt-job-%04x", r);
	snprintf(S.grp, sizeof S.grp, "crlt-grp-%04x", r);
	snprintf(S.sys, sizeof S.sys, "crlt-sys-%04x", r);
	const char *g[] = { "/usr/sbin/groupadd", S.grp, NULL };
	const char *m[] = { "/usr/sbin/useradd", "-M", "-U", "-s",
			    "/usr/sbin/nologin", S.mgr, NULL };
	const char *j[] = { "/usr/sbin/useradd", "-M", "-U", "-s",
			    "/usr/sbin/nologin", "-G", S.grp, S.job, NULL };
	const char *s[] = { "/usr/sbin/useradd", "-r", "-M", "-U", "-s",
			    "/usr/sbin/nologin", S.sys, NULL };
	if (run_cmd(g) || run_cmd(m) || run_cmd(j) || run_cmd(s))
		return -1;
	if (!(pw = getpwnam(S.mgr)))
		return -1;
	S.mgr_uid = pw->pw_uid, S.mgr_gid = pw->pw_gid;
	if (!(pw = getpwnam(S.job)))
		return -1;
	S.job_uid = pw->pw_uid, S.job_gid = pw->pw_gid;
	if (!(pw = getpwnam(S.sys)))
		return -1;
	S.sys_uid = pw->pw_uid;
	if (!(gr = getgrnam(S.grp)))
		return -1;
	S.grp_gid = gr->gr_gid;
	if (S.job_uid < 1000 || S.sys_uid >= 1000 || getpwuid(NOUSER_UID)) {
		fprintf(stderr, "harness: unexpected uids (job %u, sys %u)\n",
			S.job_uid, S.sys_uid);
		return -1;
	}
	return 0;
}

static void kill_user_procs(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64];
		struct stat st;
		pid_t pid = atoi(de->d_name);
		if (pid <= 1)
			continue;
		snprintf(path, sizeof path, "/proc/%d", pid);
		if (stat(path, &st) == 0 && st.st_uid == uid)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

static void delete_users(void)
{
	const char *names[] = { S.job, S.mgr, S.sys };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct passwd *pw = names[i][0] ? getpwnam(names[i]) : NULL;
		if (!pw)
			continue;
		kill_user_procs(pw->pw_uid);
		const char *u[] = { "/usr/sbin/userdel", names[i], NULL };
		const char *g[] = { "/usr/sbin/groupdel", names[i], NULL };
		run_argv(u, true);
		if (getgrnam(names[i]))
			run_argv(g, true);
	}
	if (S.grp[0] && getgrnam(S.grp)) {
		const char *g[] = { "/usr/sbin/groupdel", S.grp, NULL };
		run_argv(g, true);
	}
}

static int find_cgroup2(void)
{
	char line[4096];
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char mnt[PATH_MAX], *sep = strstr(line, " - cgroup2 ");
		if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			pathf(S.cg_mount, sizeof S.cg_mount, "%s", mnt);
			return 0;
		}
	}
	fprintf(stderr, "harness: no cgroup2 mount in /proc/self/mountinfo\n");
	return -1;
}

static int make_cgroup_base(void)
{
	if (find_cgroup2() < 0)
		return -1;
	snprintf(S.cg_rel, sizeof S.cg_rel, "/corral-test-%04x", rand16());
	pathf(S.cg_base, sizeof S.cg_base, "%s%s", S.cg_mount, S.cg_rel);
	pathf(S.cg_jobs, sizeof S.cg_jobs, "%s/jobs", S.cg_base);
	if (mkdir(S.cg_base, 0755) < 0) {
		perror(S.cg_base);
		S.cg_base[0] = '\0';
		return -1;
	}
	return 0;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	const char *cp[] = { "/bin/cp", from, to, NULL };
	if (run_cmd(cp) || chmod(to, mode) < 0)
		return -1;
	return 0;
}

static int install_helper(void)
{
	snprintf(S.tmpdir, sizeof S.tmpdir, "/tmp/crlt-XXXXXX");
	if (!mkdtemp(S.tmpdir)) {
		S.tmpdir[0] = '\0';
		return -1;
	}
	pathf(S.helper, sizeof S.helper, "%s/corral-helper-test", S.tmpdir);
	if (chmod(S.tmpdir, 0755) < 0 || copy_file(S.helper_src, S.helper, 0700))
		return -1;
	/* A file the manager can read: the spawner opens it as "stray"
	 * inherited fds, recognisable by name in /proc/<pid>/fd. */
	char p[PATH_MAX + 32];
	pathf(p, sizeof p, "%s/inherited", S.tmpdir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	/* chown before chmod: chown clears the setuid bit. */
	if (chown(S.helper, 0, S.mgr_gid) < 0 || chmod(S.helper, 04750) < 0)
		return -1;
	return 0;
}

/* A minimal root filesystem: the static probe and the mount points. */
static int make_rootfs(const char *name)
{
	static const char *const dirs[] = { "proc", "dev", "tmp", "sys", "etc" };
	char root[PATH_MAX + 64], p[PATH_MAX + 128];

	snprintf(root, sizeof root, "%s/%s", S.rundir, name);
	if (mkdir(root, 0755) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
		if (mkdir(p, 0755) < 0)
			return -1;
	}
	snprintf(p, sizeof p, "%s/probe", root);
	return copy_file(S.probe_static, p, 0755);
}

static int make_rundir(void)
{
	char p[PATH_MAX + 64];

	pathf(S.rundir, sizeof S.rundir, "%s/run-XXXXXX", S.exe_dir);
	if (!mkdtemp(S.rundir)) {
		S.rundir[0] = '\0';
		return -1;
	}
	if (chmod(S.rundir, 0755) < 0 || make_rootfs("rootfs-ok") ||
	    make_rootfs("rootfs-swap") || make_rootfs("rootfs-bad"))
		return -1;
	snprintf(p, sizeof p, "%s/private", S.rundir);
	return mkdir(p, 0700);
}

static int find_paths(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n < 0)
		return -1;
	exe[n] = '\0';
	pathf(S.exe_dir, sizeof S.exe_dir, "%s", dirname(exe));
	pathf(S.probe, sizeof S.probe, "%s/probe", S.exe_dir);
	pathf(S.probe_static, sizeof S.probe_static, "%s/probe-static", S.exe_dir);
	pathf(S.preload, sizeof S.preload, "%s/preload.so", S.exe_dir);
	pathf(S.helper_src, sizeof S.helper_src, "%s/../../corral-helper-test",
		 S.exe_dir);
	if (access(S.helper_src, X_OK) || access(S.probe, X_OK) ||
	    access(S.probe_static, X_OK) || access(S.preload, R_OK)) {
		fprintf(stderr, "harness: build the helper, probe and preload.so first\n");
		return -1;
	}
	/* The job user must be able to reach and run the probe. */
	return chmod(S.probe, 0755);
}

static void read_host_ns(void)
{
	static const char *const nss[] = { "net", "pid", "mnt", "uts", "ipc",
					   "cgroup" };
	for (size_t i = 0; i < ARRAY_SIZE(nss); i++) {
		char p[64];
		ssize_t n;
		snprintf(p, sizeof p, "/proc/self/ns/%s", nss[i]);
		n = readlink(p, S.host_ns[i], sizeof S.host_ns[i] - 1);
		S.host_ns[i][n < 0 ? 0 : n] = '\0';
	}
}

int suite_setup(void)
{
	struct stat st;

	if (find_paths() < 0 || make_users() < 0 || make_cgroup_base() < 0 ||
	    install_helper() < 0 || make_rundir() < 0)
		goto fail;
	if (stat(POLICY_DIR, &st) < 0) {
		if (mkdir(POLICY_DIR, 0755) < 0)
			goto fail;
		S.made_policy_dir = true;
	}
	if (chown(POLICY_DIR, 0, 0) < 0 || chmod(POLICY_DIR, 0755) < 0 ||
	    policy_write(NULL) < 0)
		goto fail;
	read_host_ns();
	S.ready = true;
	return 0;
fail:
	fprintf(stderr, "harness: suite setup failed (%s)\n", strerror(errno));
	suite_cleanup();
	return -1;
}

/* ---- policy ---------------------------------------------------------- */

static int policy_text(const struct policy *p, char *buf, size_t n)
{
	int k = snprintf(buf, n,
		"# written by the corral helper test suite\n"
		"[helper]\nmanager_user = %s\ncgroup_base = %s\nmin_uid = 1000\nmax_uid = 4000000\n"
		"allow_root_jobs = no\nrootfs = %s/rootfs-ok\nrootfs = %s/rootfs-swap\n"
		"allow_no_net = %s\nallow_no_uts = %s\n",
		S.mgr, S.cg_rel, S.rundir, S.rundir,
		p->allow_no_net ? "yes" : "no", p->allow_no_uts ? "yes" : "no");
	if (p->max_jobs)
		k += snprintf(buf + k, n - (size_t)k, "max_jobs = %d\n", p->max_jobs);
	/* The helper applies [limits] bounds as defaults, which needs the
	 * controllers: only tests that ask for them get a [limits] section. */
	if (p->limits)
		k += snprintf(buf + k, n - (size_t)k,
			      "[limits]\npids_max = 4096\nmemory_max = 8G\ncpus = 2.0\n");
	k += snprintf(buf + k, n - (size_t)k, "%s", p->extra ? p->extra : "");
	return k;
}

int policy_write(const struct policy *p)
{
	static const struct policy dflt;
	char buf[4096], tmp[] = POLICY_DIR "/.helper.conf.XXXXXX";
	_cleanup_close_ int fd = -1;
	int n;

	p = p ? p : &dflt;
	n = policy_text(p, buf, sizeof buf);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	if (write(fd, buf, (size_t)n) != n ||
	    fchown(fd, p->mgr_owned ? S.mgr_uid : 0, 0) < 0 ||
	    fchmod(fd, p->mode ? p->mode : 0644) < 0 ||
	    rename(tmp, POLICY_PATH) < 0) {
		unlink(tmp);
		return -1;
	}
	return chmod(POLICY_DIR, p->dir_group_writable ? 0775 : 0755);
}

void policy_restore(void)
{
	if (S.ready && policy_write(NULL) < 0)
		fprintf(stderr, "harness: cannot restore the policy\n");
}

/* ---- cgroups ---------------------------------------------------------- */

void job_dir(uid_t uid, const char *id, char *out, size_t n)
{
	snprintf(out, n, "%s/%u/%s", S.cg_jobs, uid, id);
}

bool job_dir_exists(uid_t uid, const char *id)
{
	char p[PATH_MAX * 2];
	struct stat st;

	job_dir(uid, id, p, sizeof p);
	return lstat(p, &st) == 0;
}

static int count_subdirs(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_type == DT_DIR && de->d_name[0] != '.';
	return n;
}

int count_job_dirs(void)
{
	_cleanup_closedir_ DIR *d = opendir(S.cg_jobs);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[PATH_MAX * 2];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", S.cg_jobs, de->d_name);
		n += count_subdirs(p);
	}
	return n;
}

static int count_tree(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[PATH_MAX * 2];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", path, de->d_name);
		n += 1 + count_tree(p);
	}
	return n;
}

/* Every directory anywhere under the base group. */
int count_cg_dirs(void)
{
	return count_tree(S.cg_base);
}

static bool cg_empty(const char *path)
{
	char p[PATH_MAX * 2], buf[64];
	_cleanup_close_ int fd = -1;

	snprintf(p, sizeof p, "%s/cgroup.procs", path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	return fd < 0 || read(fd, buf, sizeof buf) <= 0;
}

/* Kill, empty and remove a cgroup tree, deepest first. */
static void cg_remove(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	char p[PATH_MAX * 2];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", path, de->d_name);
		cg_remove(p);
	}
	snprintf(p, sizeof p, "%s/cgroup.kill", path);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror(p);
		close(fd);
	}
	for (long end = now_ms() + 3000; !cg_empty(path) && now_ms() < end;)
		usleep(10000);
	if (rmdir(path) < 0 && errno != ENOENT)
		fprintf(stderr, "harness: rmdir %s: %s\n", path, strerror(errno));
}

void cg_remove_tree(const char *path)
{
	cg_remove(path);
}

void cg_sweep(void)
{
	if (S.cg_jobs[0])
		cg_remove(S.cg_jobs);
}

/* ---- /proc ------------------------------------------------------------ */

int count_fds_of(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/fd", pid);
	_cleanup_closedir_ DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

int count_user_procs(uid_t uid)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char p[300], line[256];
		if (atoi(de->d_name) <= 0)
			continue;
		snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
		_cleanup_fclose_ FILE *f = fopen(p, "re");
		unsigned u;
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "Uid: %u", &u) == 1) {
				n += u == uid;
				break;
			}
	}
	return n;
}

/* ---- cleanup ---------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb, (void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_tree(char *path)
{
	if (path[0])
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	path[0] = '\0';
}

void suite_cleanup(void)
{
	helpers_kill_all();
	if (S.cg_base[0]) {
		cg_remove(S.cg_base);
		S.cg_base[0] = S.cg_jobs[0] = '\0';
	}
	delete_users();
	S.mgr[0] = S.job[0] = S.sys[0] = S.grp[0] = '\0';
	rm_tree(S.tmpdir);
	rm_tree(S.rundir);
	if (S.ready) {
		unlink(POLICY_PATH);
		chmod(POLICY_DIR, 0755);
		if (S.made_policy_dir)
			rmdir(POLICY_DIR);
	}
	S.ready = false;
}
