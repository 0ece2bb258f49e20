/* LD_PRELOAD shim for corrald, to show what its commits cost without
 * changing it: counts the fsync/fdatasync calls and the time spent in
 * them, and with BENCH_FSYNC=skip returns at once instead (the data is
 * then only as safe as synchronous=NORMAL would make it).  At exit the
 * totals go to $BENCH_FSYNC_STATS as "calls total_ns". */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long calls, total_ns;
static int skip = -1;

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int timed(const char *sym, int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, sym);
	long long t0;
	int rc;

	if (skip < 0) {
		const char *m = getenv("BENCH_FSYNC");
		skip = m && strcmp(m, "skip") == 0;
	}
	calls++;
	if (skip || !real)
		return 0;
	t0 = mono_ns();
	rc = real(fd);
	total_ns += (unsigned long long)(mono_ns() - t0);
	return rc;
}

int fsync(int fd);
int fdatasync(int fd);

int fsync(int fd)
{
	return timed("fsync", fd);
}

int fdatasync(int fd)
{
	return timed("fdatasync", fd);
}

__attribute__((destructor)) static void shim_report(void)
{
	const char *path = getenv("BENCH_FSYNC_STATS");
	FILE *f;

	/* Only the process that synced reports: corrald, not the tools
	 * that inherited the same environment. */
	if (!calls || !path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "%llu %llu\n", calls, total_ns);
	fclose(f);
}
