/* LD_PRELOAD shim for corrald: the moment a crash can take a message
 * with it.  When corrald has received an EXITED on its helper link (a
 * SOCK_SEQPACKET socket) and the file $CORRAL_KILL_AFTER can be removed
 * (once, so the corrald started again lives on), corrald dies of
 * SIGKILL: the EXITED is out of the socket and was never acted on. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto.h"

ssize_t recvmsg(int fd, struct msghdr *mh, int flags);

static int is_link(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_SEQPACKET;
}

/* The wire header: magic "CRL\x01", u16 version, u16 type (LE). */
static int is_type(const struct msghdr *mh, ssize_t n, unsigned want)
{
	const uint8_t *p;

	if (n < 12 || mh->msg_iovlen < 1 || mh->msg_iov[0].iov_len < 12)
		return 0;
	p = mh->msg_iov[0].iov_base;
	return !memcmp(p, "CRL\x01", 4) && (unsigned)(p[6] | p[7] << 8) == want;
}

ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	const char *flag = getenv("CORRAL_KILL_AFTER");
	ssize_t n;

	if (!real)
		real = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	n = real(fd, mh, flags);
	if (flag && is_type(mh, n, H_EXITED) && is_link(fd) &&
	    unlink(flag) == 0)
		raise(SIGKILL);
	return n;
}
