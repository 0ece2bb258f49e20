/* --network, by hand-written rtnetlink requests: a veth pair whose host
 * end joins the policy's bridge and whose peer is born in the job's
 * network namespace as eth0, with its address, MAC and default route.
 *
 * The helper makes the job's netns itself (unshare) before the init
 * exists, configures it, and clones the init into it: the peer moves by
 * the fd of a namespace the helper just made, never by a pid, and the
 * init and the job need no step and no privilege of their own for it.
 * Nothing here runs in a process a job could reach. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "nft.h"
#include "parse.h"

#define NL_BUF 1024
#define NL_REPLY 16384

static int host_ns = -1;	/* the helper's own netns */
static int host_nl = -1;	/* rtnetlink there */
static uint32_t nl_seq;

struct nlreq {
	struct nlmsghdr *h;
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool overflow;
};

static void nl_init(struct nlreq *q, uint16_t type, uint16_t flags,
		    const void *body, size_t len)
{
	memset(q, 0, sizeof *q);
	q->h = (struct nlmsghdr *)q->buf;
	q->h->nlmsg_type = type;
	q->h->nlmsg_flags = NLM_F_REQUEST | flags;
	q->h->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	memcpy(NLMSG_DATA(q->h), body, len);
}

/* Append an attribute (data NULL: a nest to close with nl_end). */
static struct rtattr *nl_put(struct nlreq *q, uint16_t type, const void *data,
			     size_t len)
{
	size_t at = NLMSG_ALIGN(q->h->nlmsg_len);
	struct rtattr *a = (struct rtattr *)(q->buf + at);

	if (at + RTA_SPACE(len) > sizeof q->buf) {
		q->overflow = true;
		return (struct rtattr *)q->buf;	/* written over, never sent */
	}
	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	q->h->nlmsg_len = (uint32_t)(at + RTA_SPACE(len));
	return a;
}

static void nl_end(struct nlreq *q, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)(q->buf + q->h->nlmsg_len - (char *)nest);
}

static void nl_str(struct nlreq *q, uint16_t type, const char *s)
{
	nl_put(q, type, s, strlen(s) + 1);
}

static void nl_u32(struct nlreq *q, uint16_t type, uint32_t v)
{
	nl_put(q, type, &v, sizeof v);
}

typedef void (*nl_fn)(void *ctx, const struct nlmsghdr *h);

/* Send q and read until its ACK (or a dump's end); each other reply to
 * it goes to fn.  Errors come back as the kernel's errno. */
static int nl_talk(int fd, struct nlreq *q, nl_fn fn, void *ctx,
		   const char *what, struct cerr *e)
{
	_cleanup_free_ char *buf = malloc(NL_REPLY);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = ++nl_seq;

	if (!buf)
		return cerr_sys(e, "%s", what);
	if (q->overflow)
		return cerr_set(e, EMSGSIZE, "%s: request too large", what);
	q->h->nlmsg_seq = seq;
	if (sendto(fd, q->buf, q->h->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof kernel) < 0)
		return cerr_sys(e, "%s: netlink send", what);
	for (;;) {
		ssize_t n = recv(fd, buf, NL_REPLY, 0);
		if (n < 0)
			return cerr_sys(e, "%s: netlink receive", what);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *err = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof *err))
					return cerr_set(e, EPROTO, "%s: short netlink error", what);
				if (err->error == 0)
					return 0;
				errno = -err->error;
				return cerr_sys(e, "%s", what);
			}
			if (fn)
				fn(ctx, h);
		}
	}
}

static int nl_socket(struct cerr *e)
{
	/* A kernel that does not answer in 5 s is broken; the helper must
	 * not hang on it. */
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return cerr_sys(e, "netlink socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
		close(fd);
		return cerr_sys(e, "netlink socket");
	}
	return fd;
}

int net_init(struct cerr *e)
{
	host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_ns < 0)
		return cerr_sys(e, "open /proc/self/ns/net");
	host_nl = nl_socket(e);
	return host_nl < 0 ? -1 : 0;
}

/* --- links ------------------------------------------------------------ */

struct link_info {
	const char *want;	/* by name; NULL: every link (a dump) */
	int index;
	char kind[16];
	/* a dump's callback gets each link's name and alias */
	void (*each)(void *ctx, const char *name, const char *alias);
	void *ctx;
};

static void parse_linkinfo(struct link_info *li, const struct rtattr *nest)
{
	int len = RTA_PAYLOAD(nest);

	for (const struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(li->kind, sizeof li->kind, "%.*s",
				 (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
}

static void on_link(void *ctx, const struct nlmsghdr *h)
{
	struct link_info *li = ctx;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	char name[IFNAME_LEN] = "", alias[128] = "";

	if (h->nlmsg_type != RTM_NEWLINK)
		return;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			snprintf(name, sizeof name, "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_IFALIAS)
			snprintf(alias, sizeof alias, "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_LINKINFO && li->want)
			parse_linkinfo(li, a);
	}
	if (li->each)
		li->each(li->ctx, name, alias);
	else if (li->want && !strcmp(name, li->want))
		li->index = ifi->ifi_index;
}

static int link_get(int fd, const char *name, struct link_info *li, struct cerr *e)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlreq q;

	memset(li, 0, sizeof *li);
	li->want = name;
	nl_init(&q, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
	nl_str(&q, IFLA_IFNAME, name);
	if (nl_talk(fd, &q, on_link, li, name, e) < 0)
		return -1;
	if (!li->index)
		return cerr_set(e, ENODEV, "no interface %s", name);
	return 0;
}

static int link_del(int fd, const char *name, struct cerr *e)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlreq q;

	nl_init(&q, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof ifi);
	nl_str(&q, IFLA_IFNAME, name);
	return nl_talk(fd, &q, NULL, NULL, "delete the job's veth", e);
}

static int link_up(int fd, int index, const char *alias, struct cerr *e)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index,
				 .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nlreq q;

	nl_init(&q, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
	if (alias)
		nl_str(&q, IFLA_IFALIAS, alias);
	return nl_talk(fd, &q, NULL, NULL, "set the link up", e);
}

/* The pair: the host end on the bridge, the peer eth0 in the job's
 * netns (by fd), each with its MAC. */
static int veth_create(const char *host_if, const uint8_t hmac[6],
		       const uint8_t jmac[6], int bridge, int nsfd, struct cerr *e)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlreq q;
	struct rtattr *info, *data, *peer;

	nl_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &ifi, sizeof ifi);
	nl_str(&q, IFLA_IFNAME, host_if);
	nl_put(&q, IFLA_ADDRESS, hmac, 6);
	nl_u32(&q, IFLA_MASTER, (uint32_t)bridge);
	info = nl_put(&q, IFLA_LINKINFO, NULL, 0);
	nl_str(&q, IFLA_INFO_KIND, "veth");
	data = nl_put(&q, IFLA_INFO_DATA, NULL, 0);
	peer = nl_put(&q, VETH_INFO_PEER, &ifi, sizeof ifi);
	nl_str(&q, IFLA_IFNAME, "eth0");
	nl_put(&q, IFLA_ADDRESS, jmac, 6);
	nl_u32(&q, IFLA_NET_NS_FD, (uint32_t)nsfd);
	nl_end(&q, peer);
	nl_end(&q, data);
	nl_end(&q, info);
	return nl_talk(host_nl, &q, NULL, NULL, "create the job's veth", e);
}

static int addr_add(int fd, int index, uint32_t addr, const struct policy_net *n,
		    struct cerr *e)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (uint8_t)n->prefix,
				 .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (uint32_t)index };
	uint32_t a = htonl(addr), b = htonl(n->subnet | ~n->mask);
	struct nlreq q;

	nl_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &ifa, sizeof ifa);
	nl_put(&q, IFA_LOCAL, &a, 4);
	nl_put(&q, IFA_ADDRESS, &a, 4);
	nl_put(&q, IFA_BROADCAST, &b, 4);
	return nl_talk(fd, &q, NULL, NULL, "address eth0", e);
}

static int route_default(int fd, int index, uint32_t gw, struct cerr *e)
{
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
			    .rtm_type = RTN_UNICAST };
	uint32_t g = htonl(gw);
	struct nlreq q;

	nl_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &rt, sizeof rt);
	nl_put(&q, RTA_GATEWAY, &g, 4);
	nl_u32(&q, RTA_OIF, (uint32_t)index);
	return nl_talk(fd, &q, NULL, NULL, "default route via the gateway", e);
}

/* --- the job's namespace ------------------------------------------------ */

/* Back to the host's netns, or nothing the helper does after is sound. */
void net_leave(void)
{
	if (setns(host_ns, CLONE_NEWNET) < 0) {
		syslog(LOG_CRIT, "cannot return to the host network namespace: %m");
		abort();
	}
}

int net_enter(const struct net_job *nj, struct cerr *e)
{
	if (setns(nj->nsfd, CLONE_NEWNET) < 0)
		return cerr_sys(e, "enter the job's network namespace");
	return 0;
}

/* A fresh netns, its fd, a rtnetlink socket in it, and its
 * ping_group_range opened there (a netns's own /proc/sys/net is the one
 * of whoever opens it). */
static int make_netns(struct net_job *nj, int *nl, int *ping, struct cerr *e)
{
	if (unshare(CLONE_NEWNET) < 0)
		return cerr_sys(e, "unshare the network namespace");
	nj->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nj->nsfd < 0)
		cerr_sys(e, "open the job's network namespace");
	else if ((*nl = nl_socket(e)) >= 0 &&
		 (*ping = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC)) < 0)
		cerr_sys(e, "open ping_group_range");
	net_leave();
	return *ping >= 0 ? 0 : -1;
}

static void job_macs(const char *id, uint8_t jmac[6], uint8_t hmac[6])
{
	/* 10 hex digits of the id: "xxxxxxxx-xx" */
	char hex[11];
	memcpy(hex, id, 8);
	memcpy(hex + 8, id + 9, 2);
	hex[10] = '\0';
	/* locally administered unicast; the host end's 0xfe keeps the
	 * bridge from taking it as its own address (it takes the lowest) */
	jmac[0] = 0x02;
	hmac[0] = 0xfe;
	for (int i = 0; i < 5; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		jmac[i + 1] = hmac[i + 1] = (uint8_t)v;
	}
}

/* Inside the job's netns, through its socket: eth0 addressed, up, routed. */
static int configure_eth0(int nl, const struct policy_net *n, uint32_t addr,
			  struct cerr *e)
{
	struct link_info li;

	if (link_get(nl, "eth0", &li, e) < 0 ||
	    addr_add(nl, li.index, addr, n, e) < 0 ||
	    link_up(nl, li.index, NULL, e) < 0)
		return -1;
	if (n->gateway && route_default(nl, li.index, n->gateway, e) < 0)
		return -1;
	return 0;
}

/* The policy's bridge, looked up now (an admin may make it after the
 * helper started), and checked to be a bridge. */
static int bridge_get(const struct policy_net *n, struct link_info *br, struct cerr *e)
{
	if (link_get(host_nl, n->bridge, br, e) < 0)
		return cerr_wrap(e, "network \"%s\": bridge %s", n->name, n->bridge);
	if (strcmp(br->kind, "bridge"))
		return cerr_set(e, ENOTTY, "network \"%s\": %s is not a bridge", n->name, n->bridge);
	return 0;
}

int net_bridge_check(const struct policy_net *n, struct cerr *e)
{
	struct link_info br;

	return bridge_get(n, &br, e);
}

int net_job_setup(const struct policy_net *n, const struct net_lease *l,
		  gid_t gid, struct net_job *nj, struct cerr *e)
{
	_cleanup_close_ int nl = -1, ping = -1;
	uint8_t jmac[6], hmac[6];
	struct link_info br, host;
	char alias[128], a[16], range[32];
	int len;

	nj->nsfd = -1;
	if (bridge_get(n, &br, e) < 0 || make_netns(nj, &nl, &ping, e) < 0)
		return -1;
	/* Unprivileged ICMP echo sockets for the job's own group: ping
	 * without CAP_NET_RAW, in its namespace only. */
	len = snprintf(range, sizeof range, "%u %u", (unsigned)gid, (unsigned)gid);
	if (write(ping, range, (size_t)len) != len)
		return cerr_sys(e, "write ping_group_range");
	job_macs(l->job_id, jmac, hmac);
	if (n->antispoof && nft_port_add(l->host_if, jmac, l->addr, e) < 0) {
		net_job_teardown(l);
		return cerr_wrap(e, "network \"%s\"", n->name);
	}
	if (veth_create(l->host_if, hmac, jmac, br.index, nj->nsfd, e) < 0) {
		net_job_teardown(l);
		return -1;
	}
	snprintf(alias, sizeof alias, "corral %s %u %s %s", l->job_id, (unsigned)l->uid,
		 n->name, fmt_ipv4(l->addr, a, sizeof a));
	if (link_get(host_nl, l->host_if, &host, e) < 0 ||
	    link_up(host_nl, host.index, alias, e) < 0 ||
	    configure_eth0(nl, n, l->addr, e) < 0) {
		net_job_teardown(l);
		return -1;
	}
	snprintf(nj->address, sizeof nj->address, "%s/%u", a, n->prefix);
	snprintf(nj->mac, sizeof nj->mac, "%02x:%02x:%02x:%02x:%02x:%02x",
		 jmac[0], jmac[1], jmac[2], jmac[3], jmac[4], jmac[5]);
	nj->up = true;
	return 0;
}

void net_job_close(struct net_job *nj)
{
	if (nj->nsfd >= 0)
		close(nj->nsfd);
	nj->nsfd = -1;
}

void net_job_teardown(const struct net_lease *l)
{
	struct nft_proc p = { .pid = -1, .errfd = -1 };
	struct cerr e;

	/* Both wait for the kernel's grace periods: side by side. */
	if (l->antispoof)
		nft_port_del_start(l->host_if, &p, &e);
	/* ENODEV: the kernel took the pair down with the job's netns. */
	if (link_del(host_nl, l->host_if, &e) < 0 && e.num != ENODEV)
		syslog(LOG_ERR, "job %s: %s", l->job_id, e.msg);
	if (l->antispoof && nft_port_del_finish(l->host_if, &p, &e) < 0)
		syslog(LOG_ERR, "job %s: %s", l->job_id, e.msg);
}

/* --- after a restart ------------------------------------------------------ */

struct rebuild {
	const struct policy *p;
	struct net_lease *leases;
	size_t max, n;
};

/* "corral JOB UID NET ADDR" on a link named crl...: a lease. */
static void on_veth(void *ctx, const char *name, const char *alias)
{
	struct rebuild *rb = ctx;
	struct net_lease l = { .used = true, .net = -1 };
	char id[64], net[64], addr[32];
	unsigned uid;

	if (strncmp(name, "crl", 3) || rb->n >= rb->max ||
	    sscanf(alias, "corral %63s %u %63s %31s", id, &uid, net, addr) != 4 ||
	    !job_id_valid(id) || parse_ipv4(addr, &l.addr, &(struct cerr){ 0 }) < 0)
		return;
	l.net = policy_net_find(rb->p, net);
	/* a network since removed from the policy may have had rules */
	l.antispoof = l.net < 0 || rb->p->nets[l.net].antispoof;
	l.uid = (uid_t)uid;
	strcpy(l.job_id, id);
	snprintf(l.host_if, sizeof l.host_if, "%s", name);
	rb->leases[rb->n++] = l;
}

void net_rebuild(const struct policy *p, struct net_lease *leases, size_t max,
		 bool (*gone)(const char *job_id, uid_t uid))
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct rebuild rb = { p, leases, max, 0 };
	struct link_info li = { .each = on_veth, .ctx = &rb };
	struct nlreq q;
	struct cerr e;

	nl_init(&q, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
	if (nl_talk(host_nl, &q, on_link, &li, "list links", &e) < 0) {
		syslog(LOG_ERR, "%s", e.msg);
		return;
	}
	for (size_t i = 0; i < rb.n; i++)
		if (gone(leases[i].job_id, leases[i].uid)) {
			net_job_teardown(&leases[i]);
			leases[i].used = false;
		}
}
