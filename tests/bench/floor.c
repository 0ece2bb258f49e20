#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

/* The namespaces a corral job gets by default (docs/helper.md). */
#define FLOOR_NS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWCGROUP | \
		  CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)

long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Field 5 of the first mountinfo line whose filesystem type is cgroup2. */
static int cgroup2_mount(char *out, size_t cap, struct cerr *e)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return cerr_sys(e, "open /proc/self/mountinfo");
	while (fgets(line, sizeof line, f)) {
		char mnt[4096];
		const char *sep = strstr(line, " - cgroup2 ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (strlen(mnt) >= cap)
			return cerr_set(e, ENAMETOOLONG, "cgroup2 mount path too long");
		strcpy(out, mnt);
		return 0;
	}
	return cerr_set(e, ENOENT, "no cgroup2 mount in /proc/self/mountinfo");
}

int floor_init(struct floor *f, struct cerr *e)
{
	char mnt[2048];
	int n;

	f->base_fd = -1;
	if (cgroup2_mount(mnt, sizeof mnt, e) < 0)
		return -1;
	n = snprintf(f->base, sizeof f->base, "%s/corral-bench-floor-%d", mnt,
		     (int)getpid());
	if (n < 0 || (size_t)n >= sizeof f->base)
		return cerr_set(e, ENAMETOOLONG, "cgroup path too long");
	if (mkdir(f->base, 0755) < 0)
		return cerr_sys(e, "mkdir %s", f->base);
	f->base_fd = open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->base_fd < 0) {
		cerr_sys(e, "open %s", f->base);
		rmdir(f->base);
		return -1;
	}
	return 0;
}

/* The child: nothing between clone3 and exec, as cheap as a start gets. */
static void floor_child(void)
{
	static char arg0[] = "true", path[] = "PATH=/usr/bin:/bin";
	char *const argv[] = { arg0, NULL };
	char *const envp[] = { path, NULL };

	execve("/bin/true", argv, envp);
	_exit(127);
}

/* A just-reaped group may still count its task for a moment. */
static int remove_group(const struct floor *f, const char *name, struct cerr *e)
{
	for (int i = 0; i < 1000; i++) {
		if (unlinkat(f->base_fd, name, AT_REMOVEDIR) == 0)
			return 0;
		if (errno != EBUSY)
			break;
		usleep(100);
	}
	return cerr_sys(e, "rmdir %s/%s", f->base, name);
}

int floor_run(const struct floor *f, const char *name, struct cerr *e)
{
	_cleanup_close_ int cg = -1;
	struct clone_args ca = {
		.flags = CLONE_INTO_CGROUP | FLOOR_NS,
		.exit_signal = SIGCHLD,
	};
	int status;
	long pid;

	if (mkdirat(f->base_fd, name, 0755) < 0)
		return cerr_sys(e, "mkdir %s/%s", f->base, name);
	cg = openat(f->base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		cerr_sys(e, "open %s/%s", f->base, name);
		unlinkat(f->base_fd, name, AT_REMOVEDIR);
		return -1;
	}
	ca.cgroup = (uint64_t)cg;
	pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		floor_child();
	if (pid < 0) {
		cerr_sys(e, "clone3");
		unlinkat(f->base_fd, name, AT_REMOVEDIR);
		return -1;
	}
	while (waitpid((pid_t)pid, &status, 0) < 0)
		if (errno != EINTR)
			return cerr_sys(e, "waitpid");
	if (remove_group(f, name, e) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cerr_set(e, ECHILD, "floor child ended with status 0x%x",
				status);
	return 0;
}

void floor_fini(struct floor *f)
{
	if (f->base_fd >= 0) {
		close(f->base_fd);
		rmdir(f->base);
	}
	f->base_fd = -1;
}
