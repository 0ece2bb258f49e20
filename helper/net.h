/* --network: a job's veth on the policy's bridge, its address, route and
 * MAC, and the reservation of addresses.  The few rtnetlink requests are
 * written here by hand (net.c); nothing else in the helper speaks
 * netlink. */
#ifndef CORRAL_HELPER_NET_H
#define CORRAL_HELPER_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "policy.h"

/* One address held: by a job of this helper, or found on a veth at
 * start-up (job_id of a job the sweep may not have emptied yet). */
struct net_lease {
	bool used;
	int net;			/* policy network index */
	uint32_t addr;
	uid_t uid;
	char job_id[JOB_ID_LEN + 1];
	char host_if[IFNAME_LEN];	/* the host end, on the bridge */
	bool antispoof;			/* it has nftables rules to remove */
};

/* A job's network namespace, made and configured before its init
 * exists: spawn_job clones the init into it (net_enter ... net_leave
 * around clone3). */
struct net_job {
	int nsfd;			/* the job's netns; -1: none */
	char address[NET_ADDRESS_LEN_MAX + 1];	/* A.B.C.D/N */
	char mac[NET_MAC_LEN + 1];
	bool up;			/* set up whole: teardown due at the end */
};

/* At start-up: the host's netns fd and a rtnetlink socket there. */
int net_init(struct cerr *e);

/* Rebuild the leases from the kernel: every veth this helper made
 * (named crl..., its alias "corral JOB UID NET ADDR") is a lease;
 * gone(job_id, uid) says whether the job's cgroup is gone, and then the
 * veth is deleted and the lease dropped.  leases holds max entries. */
void net_rebuild(const struct policy *p, struct net_lease *leases, size_t max,
		 bool (*gone)(const char *job_id, uid_t uid));

/* The policy's bridge is there and is a bridge. */
int net_bridge_check(const struct policy_net *n, struct cerr *e);

/* Make the job's netns with eth0 on the bridge, addressed, up, routed;
 * the host end attached and up, and the nftables rules if nft is there.
 * l is the job's lease (addr chosen).  nj->nsfd is closed by net_job_close. */
int net_job_setup(const struct policy_net *n, const struct net_lease *l,
		  gid_t gid, struct net_job *nj, struct cerr *e);
void net_job_close(struct net_job *nj);
/* Enter the job's netns for clone3, and go back to the host's. */
int net_enter(const struct net_job *nj, struct cerr *e);
void net_leave(void);

/* Delete the host end (the pair goes with it) and the job's rules. */
void net_job_teardown(const struct net_lease *l);

#endif
