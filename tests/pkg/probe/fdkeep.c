/* fdkeep: the main process of a probe unit (tests/pkg/probe/guest.sh).
 *
 * First start: makes a pipe with a writer child printing c0, c1, ... every
 * 100 ms, and a socketpair whose far end a "helper" child reads until EOF;
 * parks the pipe's read end ("pipe") and the link ("link") in systemd's
 * file descriptor store (FDSTORE=1, FDPOLL=0, sent by hand to
 * $NOTIFY_SOCKET).  A later start takes both back from LISTEN_FDS and
 * LISTEN_FDNAMES.  Either way it prints every counter line it reads, so
 * the journal shows whether a restart lost or repeated one.  The helper
 * child prints "helper link EOF" when the last holder of the link's other
 * end (the store) lets go.  Standalone on purpose: it probes systemd, not
 * corral. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int store(const char *name, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char msg[128];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { msg, 0 };
	struct msghdr m = { .msg_name = &a, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof u.b };
	struct cmsghdr *c;
	int s, r;

	if (!path || strlen(path) >= sizeof a.sun_path)
		return -1;
	memcpy(a.sun_path, path, strlen(path));
	if (a.sun_path[0] == '@')
		a.sun_path[0] = '\0';
	m.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	iov.iov_len = (size_t)snprintf(msg, sizeof msg, "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	r = sendmsg(s, &m, 0) < 0 ? -1 : 0;
	close(s);
	return r;
}

/* The fd LISTEN_FDNAMES gives NAME, or -1. */
static int listened(const char *name)
{
	const char *n = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	char buf[256], *save = NULL;
	int i = 0;

	if (!n || !names || strlen(names) >= sizeof buf)
		return -1;
	strcpy(buf, names);
	for (char *t = strtok_r(buf, ":", &save); t && i < atoi(n); t = strtok_r(NULL, ":", &save), i++)
		if (!strcmp(t, name))
			return 3 + i;
	return -1;
}

static void writer(int wfd)
{
	for (unsigned i = 0;; i++) {
		char b[32];
		int n = snprintf(b, sizeof b, "c%u\n", i);
		if (write(wfd, b, (size_t)n) != n)
			_exit(1);
		usleep(100000);
	}
}

static void helper(int lfd)
{
	char b[64];
	ssize_t n;

	while ((n = read(lfd, b, sizeof b)) > 0)
		;
	printf("helper link EOF (read %zd)\n", n);
	_exit(0);
}

int main(void)
{
	int pfd = listened("pipe"), lfd = listened("link");
	char line[64];
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fdkeep start pid=%d LISTEN_FDNAMES=%s\n", getpid(),
	       getenv("LISTEN_FDNAMES") ? getenv("LISTEN_FDNAMES") : "-");
	if (pfd < 0 || lfd < 0) {
		int p[2], sp[2];
		if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
			return 1;
		if (fork() == 0) {
			close(p[0]);
			writer(p[1]);
		}
		close(p[1]);
		if (fork() == 0) {
			close(p[0]);
			close(sp[0]);
			helper(sp[1]);
		}
		close(sp[1]);
		pfd = p[0];
		lfd = sp[0];
		if (store("pipe", pfd) < 0 || store("link", lfd) < 0) {
			printf("fdkeep: FDSTORE failed\n");
			return 1;
		}
		printf("fdkeep stored pipe and link\n");
	} else {
		printf("fdkeep took pipe=%d link=%d from the store\n", pfd, lfd);
	}
	f = fdopen(pfd, "r");
	while (f && fgets(line, sizeof line, f))
		printf("read %s", line);
	printf("fdkeep pipe EOF\n");
	return 0;
}
