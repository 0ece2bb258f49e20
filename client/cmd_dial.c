/* corral dial-stdio: the far end of corral --host ssh://HOST.  ssh runs it
 * on HOST with the session as its stdin and stdout; it joins them to
 * corrald's socket there, so corrald sees the SSH user's own uid and
 * groups.  It relays bytes and never reads the stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

static const char dial_help[] =
"usage: corral dial-stdio [--socket PATH]\n"
"\n"
"Connect to corrald's socket and relay stdin to it and its replies to\n"
"stdout until either side closes.  corral --host ssh://HOST runs this on\n"
"HOST through ssh; it is not for typing.  The socket is --socket, else\n"
"$CORRAL_SOCKET, else the default; $CORRAL_HOST is ignored here.  From\n"
"an SSH session it tells corrald the client's address for its audit log.\n"
"Exit status: 0 once either side has closed; 125 if corrald cannot be\n"
"reached (with the same message as any command).\n";

/* "ssh:<addr>:<port>" ("ssh:[<v6 addr>]:<port>") from SSH_CONNECTION
 * ("client_addr client_port server_addr server_port"), or "" if it is
 * absent or not that. */
static void ssh_via(char *buf, size_t len)
{
	const char *v = getenv("SSH_CONNECTION");
	unsigned char bin[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned port;

	buf[0] = '\0';
	if (!v || sscanf(v, "%46s %u", addr, &port) != 2 || !port || port > 65535)
		return;
	if (inet_pton(AF_INET, addr, bin) == 1)
		snprintf(buf, len, "ssh:%s:%u", addr, port);
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		snprintf(buf, len, "ssh:[%s]:%u", addr, port);
}

/* One direction's bytes in flight: read when empty, written out before
 * the next read, so each direction holds at most one buffer. */
struct half {
	char b[65536];
	size_t off, len;
};

static bool transient(ssize_t n)
{
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Relay stdin -> sock and sock -> stdout.  Done when the client's side
 * ends (stdin's EOF, once what it sent is passed on, or stdout's reader
 * gone) or corrald's does (EOF, once its last bytes are written out).
 * A client never half-closes: when its stdin ends, it has gone.  Writes
 * are tried as soon as there is something to write (all three fds are
 * non-blocking for writing); poll waits for the rest. */
static int relay(int sock, struct cerr *e)
{
	static struct half up, down;
	bool in_eof = false, sock_eof = false, up_dead = false;
	ssize_t n;

	if (fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK) < 0)
		return cerr_sys(e, "stdout");
	for (;;) {
		if (up.len) {
			n = send(sock, up.b + up.off, up.len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				up.off += (size_t)n;
				up.len -= (size_t)n;
			} else if (!transient(n)) {
				/* corrald closed: what it said last is still
				 * to be read and passed on. */
				up.len = 0;
				up_dead = true;
			}
		}
		if (down.len) {
			n = write(STDOUT_FILENO, down.b + down.off, down.len);
			if (n > 0) {
				down.off += (size_t)n;
				down.len -= (size_t)n;
			} else if (!transient(n)) {
				return 0;
			}
		}
		if ((in_eof && !up.len) || (sock_eof && !down.len))
			return 0;
		struct pollfd p[3] = {
			{ .fd = !in_eof && !up.len && !up_dead ? STDIN_FILENO : -1,
			  .events = POLLIN },
			{ .fd = sock, .events = (up.len ? POLLOUT : 0) |
						(!sock_eof && !down.len ? POLLIN : 0) },
			{ .fd = STDOUT_FILENO, .events = down.len ? POLLOUT : 0 },
		};
		if (!p[1].events)
			p[1].fd = -1;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(e, "poll");
		}
		if (p[2].revents & (POLLERR | POLLHUP))
			return 0;
		if (p[0].revents) {
			n = read(STDIN_FILENO, up.b, sizeof up.b);
			if (n > 0) {
				up.off = 0;
				up.len = (size_t)n;
			} else if (!transient(n)) {
				in_eof = true;
			}
		}
		if (p[1].revents & (POLLIN | POLLERR | POLLHUP) && !sock_eof && !down.len) {
			n = recv(sock, down.b, sizeof down.b, MSG_DONTWAIT);
			if (n > 0) {
				down.off = 0;
				down.len = (size_t)n;
			} else if (!transient(n)) {
				sock_eof = true;
			}
		}
	}
}

int cmd_dial_stdio(int argc, char **argv, struct cli *c)
{
	struct corral_conn conn;
	struct cerr e = { 0 };
	char via[VIA_LEN_MAX + 1];
	int rc;

	if ((rc = cli_json_only(argc, argv, c, dial_help, NULL, false)) >= 0)
		return rc;
	if (optind < argc)
		return cli_usage(c, "unexpected operand \"%s\"", argv[optind]);
	if (c->host)
		return cli_usage(c, "--host: dial-stdio is what --host runs on the far side; it connects here");
	if (isatty(STDIN_FILENO) || isatty(STDOUT_FILENO))
		return cli_usage(c, "stdin and stdout carry corral's binary protocol for corral --host; not a terminal");
	signal(SIGPIPE, SIG_IGN);
	if (corral_connect(&conn, corral_socket_path(c->socket), &e) < 0)
		return cli_fail(c, &e);
	/* Best effort: if corrald has already refused us, its ERROR is what
	 * the client must see, and the relay passes it on. */
	ssh_via(via, sizeof via);
	if (via[0] && corral_via(&conn, via, &e) < 0)
		e.num = 0;
	rc = relay(conn.fd, &e);
	corral_close(&conn);
	return rc < 0 ? cli_fail(c, &e) : 0;
}
