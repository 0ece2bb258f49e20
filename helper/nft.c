/* Anti-spoofing on a job's bridge port, by nftables' bridge family: from
 * its veth only frames with the job's MAC, IPv4 from the job's address,
 * and ARP that says both.  The job has no CAP_NET_RAW or CAP_NET_ADMIN
 * in its namespace, so it cannot forge at all; these rules are the second
 * line.
 *
 * The rules are made by running nft(8): netlink for nf_tables by hand
 * would be far larger than the rest of the helper's netlink together.
 * The command is a fixed path, run with an empty environment, no fd but
 * /dev/null and a pipe for its errors, and one argument built here only
 * from values the helper made or checked itself: the veth name (crl and
 * hex digits of a job id), a MAC it derived, an address it formatted
 * from a number.  Nothing corrald sends reaches the text.
 *
 * The ruleset, in the helper's (the bridge's) network namespace:
 *   table bridge corral
 *     map ports { ifname : verdict }        veth -> jump to its chain
 *     chain prerouting (hook prerouting)    iifname vmap @ports
 *     chain crl<id>                         the job's rules */
#include "nft.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse.h"

#define NFT_PATH "/usr/sbin/nft"
#define NFT_TIMEOUT_MS 5000
#define NFT_SCRIPT_MAX 2048

/* The table, the map and the one base rule; "add" of what exists is a
 * no-op, and the base chain is flushed so the rule is there once. */
#define NFT_BASE \
	"add table bridge corral; " \
	"add map bridge corral ports { type ifname : verdict; }; " \
	"add chain bridge corral prerouting { type filter hook prerouting priority -200; policy accept; }; " \
	"flush chain bridge corral prerouting; " \
	"add rule bridge corral prerouting iifname vmap @ports; "

static _Noreturn void nft_child(char *script, int errfd)
{
	char path[] = NFT_PATH;
	char *argv[] = { path, script, NULL };
	char *envp[] = { NULL };
	sigset_t none;
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	/* Wholly root, not the setuid mix of corrald's real ids and ours:
	 * nft refuses to run set-id (exit 111), and corrald's groups have
	 * no business in it. */
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		_exit(126);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(errfd, 2) < 0 ||
	    sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
	    syscall(SYS_close_range, 3, ~0U, 0) < 0)
		_exit(126);
	execve(NFT_PATH, argv, envp);
	_exit(127);
}

/* Read nft's complaint (bounded) until EOF or the timeout; its last line
 * is the useful one. */
static void read_errors(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	buf[0] = '\0';
	while (poll(&p, 1, NFT_TIMEOUT_MS) > 0) {
		char junk[256];
		ssize_t r = n + 1 < cap ? read(fd, buf + n, cap - 1 - n) : read(fd, junk, sizeof junk);
		if (r <= 0)
			break;
		if (n + 1 < cap)
			n += (size_t)r;
	}
	buf[n] = '\0';
	for (char *c = buf; *c; c++)
		if (*c == '\n' || (unsigned char)*c < 0x20)
			*c = ' ';
}

/* Start nft on script; nft_wait reaps it.  Split so that the helper can
 * delete a veth while nft deletes its rules. */
static int nft_start(char *script, struct nft_proc *p, struct cerr *e)
{
	int pfd[2];

	p->pid = -1;
	p->errfd = -1;
	if (access(NFT_PATH, X_OK) < 0)
		return cerr_set(e, ENOPKG, "anti-spoofing needs nftables: %s is not there "
				"(install nftables, or set antispoof = no for the network)", NFT_PATH);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return cerr_sys(e, "nft: pipe");
	p->pid = fork();
	if (p->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return cerr_sys(e, "nft: fork");
	}
	if (p->pid == 0)
		nft_child(script, pfd[1]);
	close(pfd[1]);
	p->errfd = pfd[0];
	return 0;
}

int nft_wait(struct nft_proc *p, struct cerr *e)
{
	_cleanup_close_ int rd = p->errfd;
	char errs[400];
	int st;

	if (p->pid < 0)
		return 0;
	read_errors(rd, errs, sizeof errs);
	/* Past the timeout, or done: either way it is reaped here. */
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return cerr_set(e, EPROTO, "anti-spoofing rules: nft %s %d (%s); does the kernel have nf_tables with the bridge family?",
				WIFEXITED(st) ? "exited" : "was killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				errs[0] ? errs : "no message");
	return 0;
}

static int nft_run(char *script, struct cerr *e)
{
	struct nft_proc p;

	if (nft_start(script, &p, e) < 0)
		return -1;
	return nft_wait(&p, e);
}

static void mac_text(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* The table, map and base rule are made once per helper (a failure
 * makes them again next time: an admin may have flushed the ruleset). */
static bool base_ready;

static int nft_base(struct cerr *e)
{
	char script[] = NFT_BASE;

	if (base_ready)
		return 0;
	if (nft_run(script, e) < 0)
		return -1;
	base_ready = true;
	return 0;
}

int nft_port_add(const char *port, const uint8_t mac[6], uint32_t addr,
		 struct cerr *e)
{
	char script[NFT_SCRIPT_MAX], m[18], a[16];
	int n;

	if (nft_base(e) < 0)
		return -1;
	mac_text(mac, m);
	snprintf(a, sizeof a, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255,
		 (addr >> 8) & 255, addr & 255);
	n = snprintf(script, sizeof script,
		     "add chain bridge corral %1$s; "
		     "flush chain bridge corral %1$s; "
		     "add rule bridge corral %1$s ether saddr != %2$s drop; "
		     "add rule bridge corral %1$s ether type != { ip, arp } drop; "
		     "add rule bridge corral %1$s ether type ip ip saddr != %3$s drop; "
		     "add rule bridge corral %1$s ether type arp arp saddr ether != %2$s drop; "
		     "add rule bridge corral %1$s ether type arp arp saddr ip != %3$s drop; "
		     "add element bridge corral ports { \"%1$s\" : jump %1$s }",
		     port, m, a);
	if (n < 0 || (size_t)n >= sizeof script)
		return cerr_set(e, E2BIG, "anti-spoofing rules: too long");
	if (nft_run(script, e) == 0)
		return 0;
	base_ready = false;
	return nft_base(e) < 0 ? -1 : nft_run(script, e);
}

int nft_port_del_start(const char *port, struct nft_proc *p, struct cerr *e)
{
	char script[NFT_SCRIPT_MAX];

	snprintf(script, sizeof script,
		 "delete element bridge corral ports { \"%1$s\" }; "
		 "delete chain bridge corral %1$s", port);
	return nft_start(script, p, e);
}

int nft_port_del_finish(const char *port, struct nft_proc *p, struct cerr *e)
{
	char script[NFT_SCRIPT_MAX];

	if (p->pid >= 0 && nft_wait(p, e) == 0)
		return 0;
	/* Not all there (a restart, a flushed ruleset): made first, so the
	 * deletes cannot fail for what is missing; one transaction. */
	base_ready = false;
	snprintf(script, sizeof script, NFT_BASE
		 "add chain bridge corral %1$s; "
		 "add element bridge corral ports { \"%1$s\" : jump %1$s }; "
		 "delete element bridge corral ports { \"%1$s\" }; "
		 "flush chain bridge corral %1$s; "
		 "delete chain bridge corral %1$s", port);
	if (nft_run(script, e) < 0)
		return -1;
	base_ready = true;
	return 0;
}
