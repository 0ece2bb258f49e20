#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "seccomp_filter.h"

extern char **environ;

/* Fixed fd numbers inside the init, after compact_fds. */
enum { FD_OUT = 3, FD_ERR, FD_REPORT, FD_STATUS, FD_NULL, FD_IN, FD_TTYSOCK,
       FD_NKEEP = 7 };

static _Noreturn void fail(enum start_stage stage, int err)
{
	struct spawn_report rep = { .stage = stage, .err = err };
	ssize_t n;

	n = write(FD_REPORT, &rep, sizeof rep);
	(void)n;
	_exit(127);
}

/* Move the fds the init needs to 3.. and close every other fd inherited
 * from the helper (its link, epoll, other jobs' fds). */
static void compact_fds(const struct spawn_args *a)
{
	const int keep[FD_NKEEP] = { a->outfd, a->errfd, a->report_w, a->status_w,
				     a->devnull, a->infd, a->ttysock };
	int high[FD_NKEEP];

	for (int i = 0; i < FD_NKEEP; i++) {
		high[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64);
		if (high[i] < 0)
			_exit(127);	/* no report fd yet */
	}
	for (int i = 0; i < FD_NKEEP; i++)
		if (dup3(high[i], FD_OUT + i, O_CLOEXEC) < 0)
			_exit(127);
	if (syscall(SYS_close_range, FD_OUT + FD_NKEEP, ~0U, 0) < 0)
		fail(STAGE_INIT_FDS, errno);
}

/* Check from the kernel itself that nothing is left: effective,
 * permitted, inheritable, bounding and ambient. */
static bool caps_all_empty(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	for (int c = 0; c < 64; c++) {
		int b = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (b < 0)
			break;	/* past the kernel's last capability */
		if (b || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			return false;
	}
	return true;
}

/* Empty every capability set, bounding and ambient included, then
 * become the user.  Changing to non-zero uids clears the rest.  System
 * calls only (libcap-ng read /proc/PID/status twice per call);
 * caps_all_empty checks the result from the kernel.  The init does this
 * before the job exists; the job inherits the result. */
static int drop_privileges(const struct spawn_args *a, enum start_stage *stage)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[2] = { { 0 } };

	*stage = STAGE_JOB_CAPS;
	for (int c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EINVAL && c > 0)
				break;	/* past the kernel's last capability */
			return -1;
		}
	*stage = STAGE_JOB_GROUPS;
	if (setgroups((size_t)a->ngroups, a->groups) < 0 ||
	    setresgid(a->gid, a->gid, a->gid) < 0)
		return -1;
	*stage = STAGE_JOB_UID;
	if (setresuid(a->uid, a->uid, a->uid) < 0)
		return -1;
	*stage = STAGE_JOB_CAPS;
	if (syscall(SYS_capset, &h, none) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	if (!caps_all_empty()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* The job runs on its own stack in the init's memory (CLONE_VM, the init
 * suspended until the exec), so from here to execve: system calls only,
 * no allocation, no library state, no return. */
static _Noreturn void job_main(const struct spawn_args *a)
{
	const struct start_req *r = a->r;
	struct rlimit nofile;
	sigset_t none;
	char cwd[PATH_LEN_MAX];

	/* Every signal at its default, as systemd gives a service: an
	 * ignored signal stays ignored across exec, and the helper ignores
	 * SIGPIPE itself and inherits whatever corrald's starter ignored (a
	 * shell's background job: INT and QUIT), which would make the job
	 * deaf to a forwarded INT and `yes | head -n 1` fail on EPIPE.  The
	 * two signals glibc keeps for itself (32, 33) are its own to set. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || (sig > 31 && sig < SIGRTMIN))
			continue;
		if (sigaction(sig, &dfl, NULL) < 0)
			fail(STAGE_JOB_FDS, errno);
	}
	/* Only then unblocked: no handler of the init's may run here, on
	 * our stack in its memory. */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fail(STAGE_JOB_FDS, errno);
	/* setsid: no controlling terminal (TIOCSTI), unless -t made one,
	 * private to this job (make_tty). */
	if (setsid() < 0 || dup2(FD_IN, 0) < 0 || dup2(FD_OUT, 1) < 0 ||
	    dup2(FD_ERR, 2) < 0)
		fail(STAGE_JOB_FDS, errno);
	if (runopt_has(&r->opt, OPT_TTY) && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(STAGE_INIT_TTY, errno);
	if (syscall(SYS_close_range, FD_OUT, FD_ERR, 0) < 0 ||
	    syscall(SYS_close_range, FD_STATUS, ~0U, 0) < 0)
		fail(STAGE_JOB_FDS, errno);
	/* --umask; else the helper's own 022 stays. */
	if (runopt_has(&r->opt, OPT_UMASK))
		umask((mode_t)r->opt.u[OPT_UMASK]);
	/* corrald raises its own fd limit for followers; jobs get the
	 * usual soft limit back. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > 1024) {
		nofile.rlim_cur = 1024;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* Born of the init after its drop: the user, no capabilities.
	 * Checked again here, from the kernel. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		fail(STAGE_JOB_UID, errno);
	if (ru != a->uid || eu != a->uid || su != a->uid ||
	    rg != a->gid || eg != a->gid || sg != a->gid)
		fail(STAGE_JOB_UID, EPERM);
	if (!caps_all_empty())
		fail(STAGE_JOB_CAPS, EPERM);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(STAGE_JOB_NNP, errno);
	/* As the user, so the user's own permissions decide; getcwd then
	 * proves the directory is reachable from our root. */
	if (chdir(r->cwd) < 0 || !getcwd(cwd, sizeof cwd))
		fail(STAGE_JOB_CWD, errno);
	int rc = seccomp_load_job_filter();
	if (rc < 0)
		fail(STAGE_JOB_SECCOMP, -rc);
	/* exec takes char *const[]; the strings are never written.  execvp
	 * searches the PATH of environ (not of an envp it is given), with
	 * buffers on our stack: the job's own environment becomes environ
	 * (the init's copy of the pointer; the init reads it no more). */
	char **argv, **envp;
	memcpy(&argv, &r->argv, sizeof argv);
	memcpy(&envp, &r->envp, sizeof envp);
	environ = envp;
	execvp(argv[0], argv);
	fail(STAGE_JOB_EXEC, errno);
}

static int job_entry(void *arg)
{
	job_main(arg);
}

/* The rootfs is looked up again inside our own mount namespace (the
 * helper's fd belongs to the host's) and must be the same inode the
 * policy named, reached without a symlink. */
static int enter_rootfs(const struct policy_rootfs *rf)
{
	_cleanup_close_ int dfd = -1, tree = -1;
	struct stat st;

	dfd = open_nofollow(rf->path, O_PATH | O_DIRECTORY, NULL);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &st) < 0)
		return -1;
	if (st.st_dev != rf->dev || st.st_ino != rf->ino) {
		errno = ESTALE;
		return -1;
	}
	tree = open_tree(dfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				  AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0 ||
	    move_mount(tree, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH |
					  MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -1;
	if (fchdir(tree) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -1;
	return 0;
}

static int mount_proc(void)
{
	_cleanup_close_ int fd = -1;
	struct statfs sfs;

	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sfs) < 0)
		return -1;
	if (sfs.f_type != PROC_SUPER_MAGIC) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

static int loopback_up(void)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (s < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* --private-tmp: an empty tmpfs on /tmp and /var/tmp (charged to the
 * job's memory cgroup, so its limits bound them), and one over /run/user,
 * whose sockets (the user's D-Bus, systemd --user) would let the job
 * start processes outside its cgroup.  Mount points the tree lacks are
 * left alone, except /tmp. */
static int private_tmp(void)
{
	static const struct {
		const char *path, *opts;
		bool required;
	} m[] = {
		{ "/tmp", "mode=1777", true },
		{ "/var/tmp", "mode=1777", false },
		{ "/run/user", "mode=0755", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		struct stat st;
		int r = lstat(m[i].path, &st);

		if (r == 0 && !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			r = -1;
		}
		if (r < 0 && !m[i].required)
			continue;
		if (r < 0)
			return -1;
		if (mount("tmpfs", m[i].path, "tmpfs", MS_NOSUID | MS_NODEV,
			  m[i].opts) < 0)
			return -1;
	}
	return 0;
}

/* The master goes to the helper, alone, with one byte. */
static int send_master(int fd)
{
	char byte = 'm', ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof ctl };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(FD_TTYSOCK, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Programs that open /dev/ptmx themselves (script, tmux, an ssh client)
 * get the job's instance too; a tree whose /dev/ptmx is a link to
 * pts/ptmx has that already, and one without it needs none. */
static int bind_ptmx(void)
{
	struct stat st;

	if (lstat("/dev/ptmx", &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISCHR(st.st_mode))
		return 0;
	return mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL);
}

/* -t, as root in the job's own mount namespace: a devpts instance of its
 * own on /dev/pts (the host's terminals invisible, nobody else's job can
 * reach this one), a pty in it whose slave belongs to the user, the
 * master to the helper (and on to corrald), the slave as the job's
 * stdin, stdout and stderr.  docs/tty.md says why each step is safe. */
static int make_tty(const struct spawn_args *a)
{
	_cleanup_close_ int dfd = -1, master = -1, slave = -1;
	struct winsize ws = { .ws_row = a->r->rows, .ws_col = a->r->cols };
	struct statfs sfs;
	int unlock = 0;

	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0600") < 0)
		return -1;
	dfd = open("/dev/pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstatfs(dfd, &sfs) < 0)
		return -1;
	if (sfs.f_type != DEVPTS_SUPER_MAGIC) {
		errno = EXDEV;
		return -1;
	}
	if (bind_ptmx() < 0)
		return -1;
	master = openat(dfd, "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    ioctl(master, TIOCSWINSZ, &ws) < 0)
		return -1;
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || fchown(slave, a->uid, a->gid) < 0 ||
	    fchmod(slave, 0600) < 0 || send_master(master) < 0)
		return -1;
	if (dup3(slave, FD_IN, O_CLOEXEC) < 0 || dup3(slave, FD_OUT, O_CLOEXEC) < 0 ||
	    dup3(slave, FD_ERR, O_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* A job with its own netns gets a fresh sysfs (read-only), which shows
 * that netns's interfaces only, and on /sys/fs/cgroup a cgroup2 mount of
 * its own cgroup namespace, whose root is the job's group: its usage
 * files, and no other job's id.  A rootfs without /sys is left alone. */
static int mount_sys(void)
{
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	struct stat st;

	if (lstat("/sys", &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (mount("sysfs", "/sys", "sysfs", fl | MS_RDONLY, NULL) < 0)
		return -1;
	if (lstat("/sys/fs/cgroup", &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return mount("cgroup2", "/sys/fs/cgroup", "cgroup2", fl, NULL);
}

static void setup_namespaces(const struct spawn_args *a)
{
	uint32_t off = a->r->ns_off;

	if (!(off & NS_MNT) &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(STAGE_INIT_MOUNT, errno);
	if (a->rootfs && enter_rootfs(a->rootfs) < 0)
		fail(STAGE_INIT_ROOTFS, errno);
	if (runopt_has(&a->r->opt, OPT_PRIVATE_TMP) && private_tmp() < 0)
		fail(STAGE_INIT_TMP, errno);
	if (!(off & NS_MNT) && !(off & NS_PID) && mount_proc() < 0)
		fail(STAGE_INIT_PROC, errno);
	if (!(off & NS_MNT) && !(off & NS_NET) && mount_sys() < 0)
		fail(STAGE_INIT_SYS, errno);
	if (!(off & NS_UTS) && sethostname(a->hostname, strlen(a->hostname)) < 0)
		fail(STAGE_INIT_HOSTNAME, errno);
	if (!(off & NS_NET) && loopback_up() < 0)
		fail(STAGE_INIT_NET, errno);
}

/* Without WUNTRACED, waitpid reports a stop only for a process we trace,
 * and we trace only a child that asked with PTRACE_TRACEME (the job, or
 * an orphan handed to us).  The init is no debugger: it detaches at the
 * first stop, so the process runs on untraced.  The SIGSTOP of the
 * TRACEME idiom and the SIGTRAP the kernel sends a traced execve are
 * messages to the tracer and are swallowed, as a debugger does; any other
 * signal is delivered on detach.  A detach that fails leaves nothing to
 * do: the process is gone or no longer ours. */
static void release_tracee(pid_t p, int sig)
{
	if (sig == SIGSTOP || sig == SIGTRAP)
		sig = 0;
	ptrace(PTRACE_DETACH, p, NULL, (void *)(uintptr_t)sig);
}

/* pid 1 of the job: forward the four signals to the main process's
 * group (corrald's foreground SIGNAL: Ctrl-C), reap everything, and hand
 * the command's exact wait status to the helper.  The kernel ignores
 * default-action signals a pid namespace's init sends itself, so it
 * cannot re-raise a fatal signal; the status pipe carries it instead. */
static _Noreturn void init_loop(pid_t job)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL), st;
		pid_t p;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* As a terminal does: the main process's whole group
			 * (it called setsid(), so its pgid is its pid). */
			kill(-job, sig);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (WIFSTOPPED(st)) {
				release_tracee(p, WSTOPSIG(st));
				continue;
			}
			if (p != job)
				continue;
			if (write(FD_STATUS, &st, sizeof st) != sizeof st)
				_exit(125);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}

/* The job's stack while it shares the init's memory: execvp needs a
 * few KiB (PATH and the name, or a script's argv); pages are touched
 * only as used.  A guard page below catches an overflow. */
#define JOB_STACK (256 * 1024)
#define JOB_GUARD 4096

static _Noreturn void init_main(const struct spawn_args *a)
{
	sigset_t set;
	enum start_stage stage;
	char *stack;
	void *arg;
	pid_t job;

	compact_fds(a);
	setup_namespaces(a);
	if (runopt_has(&a->r->opt, OPT_TTY) && make_tty(a) < 0)
		fail(STAGE_INIT_TTY, errno);
	/* Only the init had it, and only until now. */
	close(FD_TTYSOCK);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fail(STAGE_INIT_FORK, errno);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fail(STAGE_INIT_FORK, errno);
	/* The init drops to the user before the job exists: no privileged
	 * process is left once there is a job, and the job is born
	 * unprivileged. */
	if (drop_privileges(a, &stage) < 0)
		fail(stage, errno);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(STAGE_INIT_DROP, errno);
	/* No copy of the helper's memory for a process that execs at once:
	 * the job shares ours on a stack of its own, and we are suspended
	 * (CLONE_VFORK) until it has exec'd or exited.  It has its own fd
	 * table and signal dispositions (no CLONE_FILES, no CLONE_SIGHAND). */
	stack = mmap(NULL, JOB_STACK + JOB_GUARD, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED || mprotect(stack, JOB_GUARD, PROT_NONE) < 0)
		fail(STAGE_INIT_FORK, errno);
	memcpy(&arg, &a, sizeof arg);	/* clone's void *; job_main only reads */
	job = clone(job_entry, stack + JOB_GUARD + JOB_STACK,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
	if (job < 0)
		fail(STAGE_INIT_FORK, errno);
	munmap(stack, JOB_STACK + JOB_GUARD);
	close(FD_OUT);
	close(FD_ERR);
	close(FD_NULL);
	close(FD_IN);
	close(FD_REPORT);
	init_loop(job);
}

int spawn_job(const struct spawn_args *a, int *pidfd, pid_t *pid,
	      struct cerr *e)
{
	uint32_t off = a->r->ns_off;
	struct clone_args ca = {
		.flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)a->cgfd,
	};
	long r;

	if (!(off & NS_PID))
		ca.flags |= CLONE_NEWPID;
	if (!(off & NS_MNT))
		ca.flags |= CLONE_NEWNS | CLONE_NEWCGROUP;
	if (!(off & NS_UTS))
		ca.flags |= CLONE_NEWUTS;
	if (!(off & NS_IPC))
		ca.flags |= CLONE_NEWIPC;
	if (!(off & NS_NET) && !a->net_preset)
		ca.flags |= CLONE_NEWNET;
	r = syscall(SYS_clone3, &ca, sizeof ca);
	if (r < 0)
		return cerr_sys(e, "clone3");
	if (r == 0)
		init_main(a);
	*pid = (pid_t)r;
	return 0;
}
