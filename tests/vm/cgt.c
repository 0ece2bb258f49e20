/* cgt: the one static test program of the VM tier.  Jobs run it to put a
 * known load on a cgroup (memory, cpu, forks, direct I/O) and to report
 * what they saw themselves, so the proofs can compare the job's own view
 * with what corral recorded.  The VM has only busybox, so this also
 * carries the small tools busybox lacks (runas, a millisecond clock).
 *
 * Output is key=value words on one line, easy to pick apart with sed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024L)
#define MAX_GROUPS 64

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "cgt: %s: %s\n", what, strerror(errno));
	exit(125);
}

__attribute__((noreturn)) static void usage(void)
{
	fputs("usage: cgt hog MIB [HOLD_S] | burn SECS | forkbomb SECS | "
	      "cpus SECS | diowrite DEV MIB | ms | runas USER -- CMD...\n", stderr);
	exit(2);
}

/* A bounded, fully checked number: arguments come from test scripts, but
 * a typo must fail loudly rather than test the wrong thing. */
static long num(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max) {
		fprintf(stderr, "cgt: bad number '%s' (0..%ld)\n", s, max);
		exit(2);
	}
	return v;
}

static int64_t mono_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t self_cpu_usec(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		die("getrusage");
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Touch every page with a distinct byte so the memory is really charged
 * (and, when swapped, really has to be written out). */
static int cmd_hog(int argc, char **argv)
{
	if (argc < 1)
		usage();
	long mib = num(argv[0], 4096);
	long hold = argc > 1 ? num(argv[1], 3600) : 0;
	long page = sysconf(_SC_PAGESIZE);
	char *p = malloc((size_t)(mib * MIB));
	if (!p)
		die("malloc");
	for (long off = 0; off < mib * MIB; off += page)
		p[off] = (char)(off / page) | 1;
	printf("hog mib=%ld\n", mib);
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
}

static int cmd_burn(int argc, char **argv)
{
	if (argc < 1)
		usage();
	int64_t dur = num(argv[0], 600) * 1000000;
	int64_t t0 = mono_usec(), c0 = self_cpu_usec();
	volatile uint64_t x = 0;
	while (mono_usec() - t0 < dur)
		for (int i = 0; i < 10000; i++)
			x = x + (uint64_t)i;
	printf("burn wall_usec=%lld cpu_usec=%lld total_cpu_usec=%lld\n",
	       (long long)(mono_usec() - t0), (long long)(self_cpu_usec() - c0),
	       (long long)self_cpu_usec());
	return 0;
}

/* Every process keeps forking; children join in.  When the pids limit
 * bites, fork fails with EAGAIN and the process backs off briefly, as a
 * real bomb would keep retrying.  The first process reports its counts
 * after SECS and then stays, so only a stop ends the job. */
__attribute__((noreturn)) static void cmd_forkbomb(int argc, char **argv)
{
	if (argc < 1)
		usage();
	int64_t dur = num(argv[0], 600) * 1000000, t0 = mono_usec();
	pid_t leader = getpid();
	long forks = 0, eagain = 0;
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			forks = eagain = 0;
			continue;
		}
		if (pid > 0)
			forks++;
		else if (errno == EAGAIN) {
			eagain++;
			usleep(2000);
		} else
			die("fork");
		if (getpid() == leader && dur && mono_usec() - t0 >= dur) {
			printf("forkbomb forks=%ld eagain=%ld\n", forks, eagain);
			fflush(stdout);
			dur = 0;
		}
	}
}

static void print_allowed(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			line[strcspn(line, "\n")] = 0;
			printf("allowed=%s", line + 18 + strspn(line + 18, " \t"));
		}
	fclose(f);
}

/* Spin and note every CPU the scheduler ever ran us on. */
static int cmd_cpus(int argc, char **argv)
{
	if (argc < 1)
		usage();
	int64_t dur = num(argv[0], 600) * 1000000, t0 = mono_usec();
	uint64_t seen = 0;
	long samples = 0;
	while (mono_usec() - t0 < dur) {
		int c = sched_getcpu();
		if (c >= 0 && c < 64)
			seen |= 1ULL << c;
		samples++;
	}
	print_allowed();
	printf(" seen=");
	const char *sep = "";
	for (int c = 0; c < 64; c++)
		if (seen & (1ULL << c)) {
			printf("%s%d", sep, c);
			sep = ",";
		}
	printf(" samples=%ld\n", samples);
	return 0;
}

/* O_DIRECT so the writes reach the block layer (and io.max) at once
 * instead of being absorbed by the page cache. */
static int cmd_diowrite(int argc, char **argv)
{
	if (argc < 2)
		usage();
	long mib = num(argv[1], 1024);
	int fd = open(argv[0], O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		die(argv[0]);
	void *buf;
	if (posix_memalign(&buf, 4096, MIB))
		die("posix_memalign");
	memset(buf, 0x5a, MIB);
	int64_t t0 = mono_usec();
	for (long i = 0; i < mib; i++)
		if (write(fd, buf, MIB) != MIB)
			die("write");
	if (fdatasync(fd) < 0)
		die("fdatasync");
	int64_t us = mono_usec() - t0;
	printf("diowrite bytes=%ld usec=%lld\n", mib * MIB, (long long)us);
	close(fd);
	free(buf);
	return 0;
}

static int cmd_ms(void)
{
	printf("%lld\n", (long long)(mono_usec() / 1000));
	return 0;
}

/* Field n (0-based) of a colon-separated line, copied into out. */
static const char *field(const char *line, int n, char *out, size_t size)
{
	for (; n > 0 && line; n--) {
		line = strchr(line, ':');
		if (line)
			line++;
	}
	if (!line)
		return NULL;
	size_t len = strcspn(line, ":\n");
	if (len >= size)
		return NULL;
	memcpy(out, line, len);
	out[len] = 0;
	return out;
}

static int lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	FILE *f = fopen("/etc/passwd", "r");
	char line[512], buf[64];
	int found = -1;
	if (!f)
		die("/etc/passwd");
	while (found < 0 && fgets(line, sizeof line, f))
		if (field(line, 0, buf, sizeof buf) && !strcmp(buf, user) &&
		    field(line, 2, buf, sizeof buf)) {
			*uid = (uid_t)num(buf, 65535);
			*gid = (gid_t)num(field(line, 3, buf, sizeof buf) ? buf : "x", 65535);
			found = 0;
		}
	fclose(f);
	return found;
}

/* Supplementary groups: every /etc/group line whose member list names
 * the user, as initgroups(3) does for the files database. */
static int user_groups(const char *user, gid_t primary, gid_t *gids)
{
	FILE *f = fopen("/etc/group", "r");
	char line[512], gbuf[16], members[400];
	int n = 0;
	if (!f)
		die("/etc/group");
	gids[n++] = primary;
	while (n < MAX_GROUPS && fgets(line, sizeof line, f)) {
		if (!field(line, 2, gbuf, sizeof gbuf) ||
		    !field(line, 3, members, sizeof members))
			continue;
		for (char *save, *m = strtok_r(members, ",", &save); m;
		     m = strtok_r(NULL, ",", &save))
			if (!strcmp(m, user))
				gids[n++] = (gid_t)num(gbuf, 65535);
	}
	fclose(f);
	return n;
}

/* setpriv --reuid --regid --init-groups, which busybox lacks. */
static int cmd_runas(int argc, char **argv)
{
	uid_t uid;
	gid_t gid, gids[MAX_GROUPS];
	if (argc < 3 || strcmp(argv[1], "--"))
		usage();
	if (lookup_user(argv[0], &uid, &gid) < 0) {
		fprintf(stderr, "cgt: no user '%s'\n", argv[0]);
		return 125;
	}
	int n = user_groups(argv[0], gid, gids);
	if (setgroups((size_t)n, gids) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		die("dropping to user");
	execvp(argv[2], argv + 2);
	fprintf(stderr, "cgt: exec %s: %s\n", argv[2], strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *c = argv[1];
	argc -= 2;
	argv += 2;
	if (!strcmp(c, "hog"))
		return cmd_hog(argc, argv);
	if (!strcmp(c, "burn"))
		return cmd_burn(argc, argv);
	if (!strcmp(c, "forkbomb"))
		cmd_forkbomb(argc, argv);
	if (!strcmp(c, "cpus"))
		return cmd_cpus(argc, argv);
	if (!strcmp(c, "diowrite"))
		return cmd_diowrite(argc, argv);
	if (!strcmp(c, "ms"))
		return cmd_ms();
	if (!strcmp(c, "runas"))
		return cmd_runas(argc, argv);
	usage();
}
