/* LD_PRELOAD shim for corrald in the fault tier: while the file named by
 * $CORRAL_SYNCFAIL exists, fsync and fdatasync fail with EIO and do
 * nothing, as on a disk that could not write what it was given.  The
 * data stays in the page cache, so what a restart finds is not the
 * point: what corrald told its clients before the failure is. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static int sync_or_fail(const char *sym, int fd)
{
	const char *flag = getenv("CORRAL_SYNCFAIL");
	int (*real)(int);

	if (flag && access(flag, F_OK) == 0) {
		errno = EIO;
		return -1;
	}
	real = (int (*)(int))dlsym(RTLD_NEXT, sym);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd);
}

int fsync(int fd)
{
	return sync_or_fail("fsync", fd);
}

int fdatasync(int fd)
{
	return sync_or_fail("fdatasync", fd);
}
