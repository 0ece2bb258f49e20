/* bench-keylat: keystroke round trip through a terminal program.
 *
 *   bench-keylat [-n N] -- CMD [ARG...]
 *
 * Runs CMD on a fresh pty of its own (as a terminal emulator would),
 * waits until it prints READY, then N times writes one byte to the pty
 * and waits for that byte to come back (the echo of whatever terminal
 * CMD gives it), and prints "median p10 p90 runs" in microseconds.  With
 * CMD = corral run -q -t -- sh -c 'echo READY; exec cat' the byte goes
 * client -> corrald -> the job's pty, whose echo comes back job pty ->
 * corrald -> log -> client; with CMD = sh -c 'echo READY; exec cat' it is
 * the bare pty's own echo: the floor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define ROUNDS_MAX 100000
#define WAIT_MS 10000

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Read from fd until want shows up (or the wait ends): 0, or -1. */
static int wait_for(int fd, const char *want)
{
	char buf[4096], seen[8192] = "";
	size_t have = 0;
	int64_t end = now_us() + (int64_t)WAIT_MS * 1000;

	while (!strstr(seen, want)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((end - now_us()) / 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		n = read(fd, buf, sizeof buf);
		if (n <= 0)
			return -1;
		for (ssize_t i = 0; i < n; i++) {
			if (have + 1 >= sizeof seen) {
				memmove(seen, seen + sizeof seen / 2, sizeof seen / 2);
				have -= sizeof seen / 2;
			}
			seen[have++] = buf[i] ? buf[i] : ' ';
			seen[have] = '\0';
		}
	}
	return 0;
}

static pid_t spawn_on_pty(int *master, char **argv)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	pid_t pid;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
	    ioctl(m, TIOCSWINSZ, &ws) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int s;
		setsid();
		s = open(ptsname(m), O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0 || dup2(s, 0) < 0 ||
		    dup2(s, 1) < 0 || dup2(s, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	*master = m;
	return pid;
}

int main(int argc, char **argv)
{
	static int64_t t[ROUNDS_MAX];
	int n = 200, opt, master = -1, st;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+n:")) != -1) {
		if (opt != 'n')
			return 2;
		n = atoi(optarg);
	}
	if (n < 1 || n > ROUNDS_MAX || optind >= argc) {
		fprintf(stderr, "usage: bench-keylat [-n N] -- CMD [ARG...]\n");
		return 2;
	}
	pid = spawn_on_pty(&master, argv + optind);
	if (pid < 0 || wait_for(master, "READY") < 0) {
		fprintf(stderr, "bench-keylat: %s did not print READY\n", argv[optind]);
		return 1;
	}
	usleep(100000);		/* let the start's output settle */
	for (int i = 0; i < n; i++) {
		int64_t t0 = now_us();
		if (write(master, "x", 1) != 1 || wait_for(master, "x") < 0) {
			fprintf(stderr, "bench-keylat: round %d: no echo\n", i);
			return 1;
		}
		t[i] = now_us() - t0;
	}
	/* ^D ends cat; a closed terminal ends the rest (SIGHUP). */
	if (write(master, "\n\004", 2) < 0)
		return 1;
	usleep(100000);
	close(master);
	waitpid(pid, &st, 0);
	qsort(t, (size_t)n, sizeof t[0], cmp_i64);
	printf("%lld %lld %lld %d\n", (long long)t[n / 2], (long long)t[n / 10],
	       (long long)t[n * 9 / 10], n);
	return 0;
}
