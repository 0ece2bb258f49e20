/* The program the helper tests run as a job: each subcommand reports one
 * observable property of the process it became, on one line of stdout,
 * so the test driver can compare it with what the helper promised. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmd_ids(void)
{
	gid_t groups[NGROUPS_MAX];
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int n = getgroups(NGROUPS_MAX, groups);

	if (n < 0 || getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return 1;
	printf("uid=%u,%u,%u gid=%u,%u,%u groups=", r, e, s, rg, eg, sg);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf("\n");
	return 0;
}

static int cmd_status(void)
{
	static const char *const keys[] = { "CapEff:", "CapPrm:", "CapBnd:",
					    "CapAmb:", "CapInh:", "NoNewPrivs:",
					    "Seccomp:" };
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 1;
	while (fgets(line, sizeof line, f)) {
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			size_t k = strlen(keys[i]);
			char *v;
			if (strncmp(line, keys[i], k))
				continue;
			v = line + k;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			printf("%.*s=%s ", (int)k - 1, keys[i], v);
		}
	}
	fclose(f);
	printf("\n");
	return 0;
}

/* Each call is one the seccomp filter must refuse with EPERM; a call that
 * unexpectedly succeeds is reported as errno 0. */
static void report(const char *name, long rc, int is_fd)
{
	printf("%s=%d ", name, rc < 0 ? errno : 0);
	if (rc >= 0 && is_fd)
		close((int)rc);
}

static int cmd_syscalls(void)
{
	errno = 0;
	report("unshare", unshare(CLONE_NEWUSER), 0);
	report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */,
				 -3 /* session */, 0), 0);
	report("add_key", syscall(SYS_add_key, "user", "crlt", "x", 1,
				  -3 /* session keyring */), 0);
	report("bpf", syscall(SYS_bpf, 0, NULL, 0), 1);
	report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), 1);
	report("userfaultfd", syscall(SYS_userfaultfd, 0), 1);
	/* A target no mount can succeed on (ENOTDIR even for root), so a
	 * stray run of the probe outside a job cannot change the host. */
	report("mount", mount("none", "/dev/null", "tmpfs", 0, NULL), 0);
	report("ptrace", ptrace(PTRACE_ATTACH, getppid(), NULL, NULL), 0);
	/* Reading the (empty) LDT succeeds unfiltered, so a refusal is the
	 * filter's. */
	char ldt[16];
	report("modify_ldt", syscall(SYS_modify_ldt, 0, ldt, sizeof ldt), 0);
	report("memfd_secret", syscall(447 /* SYS_memfd_secret */, 0), 1);
	printf("\n");
	return 0;
}

/* Socket families: errno per call, 0 when the socket was made. */
static int cmd_sockets(void)
{
	int sv[2];
	long r;

	errno = 0;
	report("vsock", socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), 1);
	/* The kernel reads the domain as an int: junk in the upper half of
	 * the register must not get past a 64-bit comparison. */
	r = syscall(SYS_socket, (1L << 32) | AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	report("vsock_high", r, 1);
	report("alg", socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), 1);
	report("key", socket(AF_KEY, SOCK_RAW | SOCK_CLOEXEC, 2 /* PF_KEY_V2 */), 1);
	report("vsock_pair", socketpair(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* What jobs do need still works. */
	report("inet", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 1);
	report("inet6", socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), 1);
	report("netlink", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* ROUTE */), 1);
	r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	report("unix_pair", r, 0);
	if (r == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	printf("\n");
	return 0;
}

static int count_procs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '0' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), up;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	up = ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ? -1 : !!(ifr.ifr_flags & IFF_UP);
	close(s);
	return up;
}

static void print_ns(const char *name)
{
	char path[64], buf[128];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	n = readlink(path, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = '\0';
	printf("ns_%s=%s ", name, buf);
}

static int cmd_ns(void)
{
	static const char *const nss[] = { "net", "pid", "mnt", "uts", "ipc",
					   "cgroup" };
	struct if_nameindex *ifs = if_nameindex();
	struct utsname u;

	uname(&u);
	printf("pid=%d ppid=%d nprocs=%d hostname=%s lo_up=%d ifaces=",
	       getpid(), getppid(), count_procs(), u.nodename, lo_up());
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		printf("%s%s", i == ifs ? "" : ",", i->if_name);
	if (ifs)
		if_freenameindex(ifs);
	printf(" ");
	for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++)
		print_ns(nss[i]);
	printf("\n");
	return 0;
}

static int cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int first = 1;

	if (!d)
		return 1;
	printf("fds=");
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		printf("%s%s", first ? "" : ",", de->d_name);
		first = 0;
	}
	closedir(d);
	printf("\n");
	return 0;
}

static int cmd_env(void)
{
	for (char **e = environ; *e; e++)
		printf("%s\n", *e);
	return 0;
}

static int cmd_cgroup(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return 1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "0::", 3))
			printf("%s", line);
	fclose(f);
	return 0;
}

static int cmd_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int err = fd < 0 ? errno : 0;

	if (fd >= 0)
		close(fd);
	printf("isatty=%d,%d,%d devtty_errno=%d sid_is_pid=%d pgid_is_pid=%d\n",
	       isatty(0), isatty(1), isatty(2), err, getsid(0) == getpid(),
	       getpgid(0) == getpid());
	return 0;
}

static int cmd_cwd(void)
{
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof buf))
		return 1;
	printf("cwd=%s\n", buf);
	return 0;
}

static void on_term(int sig)
{
	static const char msg[] = "term\n";
	(void)sig;
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(99);
	_exit(atoi(getenv("CRLT_TRAP_CODE") ? getenv("CRLT_TRAP_CODE") : "0"));
}

static void ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

static int sleep_forever(void)
{
	for (;;)
		pause();
	return 0;
}

static int cmd_trap_term(const char *code)
{
	struct sigaction sa = { .sa_handler = on_term };

	setenv("CRLT_TRAP_CODE", code, 1);
	sigaction(SIGTERM, &sa, NULL);
	ready();
	return sleep_forever();
}

static int cmd_ignore_term(void)
{
	signal(SIGTERM, SIG_IGN);
	ready();
	return sleep_forever();
}

static int cmd_signal(int sig)
{
	struct rlimit nocore = { 0, 0 };

	setrlimit(RLIMIT_CORE, &nocore);
	signal(sig, SIG_DFL);
	fflush(stdout);
	raise(sig);
	return 100;
}

/* The debugger idiom: make the parent (here the job's init) our tracer
 * and stop for it, then go on and exit with code. */
static int cmd_traceme(const char *code)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
		printf("traceme_errno=%d\n", errno);
		return 100;
	}
	raise(SIGSTOP);
	printf("resumed\n");
	return atoi(code);
}

/* A traced process that execs gets a SIGTRAP stop from the kernel. */
static int cmd_traceme_exec(const char *self, const char *code)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
		printf("traceme_errno=%d\n", errno);
		return 100;
	}
	execl(self, self, "exit", code, (char *)NULL);
	return 101;
}

static int cmd_spin(long ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
	printf("spun=%ld\n", ms);
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	const char *a = argc > 2 ? argv[2] : "0";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "ids"))
		return cmd_ids();
	if (!strcmp(c, "status"))
		return cmd_status();
	if (!strcmp(c, "syscalls"))
		return cmd_syscalls();
	if (!strcmp(c, "sockets"))
		return cmd_sockets();
	if (!strcmp(c, "ns"))
		return cmd_ns();
	if (!strcmp(c, "fds"))
		return cmd_fds();
	if (!strcmp(c, "env"))
		return cmd_env();
	if (!strcmp(c, "cgroup"))
		return cmd_cgroup();
	if (!strcmp(c, "tty"))
		return cmd_tty();
	if (!strcmp(c, "cwd"))
		return cmd_cwd();
	if (!strcmp(c, "exit"))
		return atoi(a);
	if (!strcmp(c, "signal"))
		return cmd_signal(atoi(a));
	if (!strcmp(c, "sleep")) {
		ready();
		return sleep_forever();
	}
	if (!strcmp(c, "trap-term"))
		return cmd_trap_term(a);
	if (!strcmp(c, "ignore-term"))
		return cmd_ignore_term();
	if (!strcmp(c, "traceme"))
		return cmd_traceme(a);
	if (!strcmp(c, "traceme-exec"))
		return cmd_traceme_exec(argv[0], a);
	if (!strcmp(c, "spin"))
		return cmd_spin(atol(a));
	fprintf(stderr, "probe: unknown command '%s'\n", c);
	return 64;
}
