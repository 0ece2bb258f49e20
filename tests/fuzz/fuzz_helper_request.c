/* Fuzz the helper's request validation: the framing decode of the helper
 * link followed by the START policy checks, and the policy parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "proto.h"

static const char policy_text[] =
	"[helper]\nmanager_user = corrald\ncgroup_base = /corral\n"
	"min_uid = 1000\nmax_jobs = 4\nrootfs = /srv/a\nrootfs = /srv/b\n"
	"allow_no_net = yes\n"
	"[limits]\nmemory_max = 1G\ncpus = 1.5\npids_max = 100\n"
	"io_bps_max = 10M\nio_iops_max = 1000\n"
	"[user]\nmemory_max = 2G\n"
	"[network lab]\nbridge = br-lab\nsubnet = 10.99.0.0/24\n"
	"gateway = 10.99.0.1\npool = 10.99.0.10-10.99.0.200\n"
	"users = alice, @builders\nmax_per_user = 4\n";

/* An accepted network hands out hosts of its subnet only, never the
 * gateway, and net_pick keeps to the pool and the quota. */
static void check_nets(const struct policy *p, const uint8_t *data, size_t size)
{
	for (unsigned i = 0; i < p->nnets; i++) {
		const struct policy_net *n = &p->nets[i];
		uint32_t want = 0, out = 0, taken[2] = { n->pool_lo, n->pool_hi };
		struct cerr e;

		if ((n->pool_lo & n->mask) != n->subnet || (n->pool_hi & n->mask) != n->subnet ||
		    n->pool_lo > n->pool_hi || n->pool_lo == n->subnet ||
		    n->pool_hi == (n->subnet | ~n->mask) ||
		    (n->gateway >= n->pool_lo && n->gateway <= n->pool_hi) ||
		    !n->bridge[0] || n->max_per_user == 0)
			__builtin_trap();
		if (size >= 4)
			memcpy(&want, data, 4);
		if (net_pick(n, want, taken, 2, size & 7, &out, &e) == 0 &&
		    (out < n->pool_lo || out > n->pool_hi || (size & 7) >= n->max_per_user ||
		     out == taken[0] || out == taken[1]))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy pol;
	static int ready;
	struct wire_msg m;
	union request u;
	struct cerr e;

	if (!ready) {
		if (policy_parse(policy_text, sizeof policy_text - 1, &pol, &e) < 0)
			__builtin_trap();
		pol.manager_uid = 990;
		ready = 1;
	}
	if (size > 0 && data[0] == 'P') {
		static struct policy p;
		if (policy_parse((const char *)data + 1, size - 1, &p, &e) == 0)
			check_nets(&p, data, size);
		return 0;
	}
	if (wire_decode(&proto_helper_req, data, size, &m, &e) < 0)
		return 0;
	if (m.type == H_START && start_check(&pol, &m, &u, &e) == 0) {
		const struct start_req *r = &u.start;
		/* Whatever passes must honour every bound of the policy. */
		for (unsigned id = 0; id < OPT_COUNT; id++)
			if (pol.max[id] != UNBOUNDED &&
			    (runopt_defs[id].flags & OF_FILL) &&
			    (!runopt_has(&r->opt, id) || r->opt.u[id] > pol.max[id]))
				__builtin_trap();
		if ((r->ns_off & ~pol.ns_may_off) || r->uid < pol.min_uid ||
		    r->argc < 1 || r->cwd[0] != '/')
			__builtin_trap();
		/* --network: a network of the policy, with its namespace */
		if (runopt_has(&r->opt, OPT_NETWORK) != (r->net_idx >= 0) ||
		    r->net_idx >= (int)pol.nnets || (r->net_idx >= 0 && (r->ns_off & NS_NET)))
			__builtin_trap();
		(void)start_controllers(r);
		start_req_free(&u.start);
	}
	/* A signal that passes is never KILL or the C library's own, and a
	 * foreground one is one the init forwards. */
	if (m.type == H_SIGNAL && signal_check(&pol, &m, &u, &e) == 0 &&
	    (u.sig.sig < 1 || u.sig.sig > 64 || u.sig.sig == 9 ||
	     u.sig.sig == 32 || u.sig.sig == 33 ||
	     (u.sig.foreground && u.sig.sig != 15 && u.sig.sig != 2 &&
	      u.sig.sig != 1 && u.sig.sig != 3)))
		__builtin_trap();
	wire_msg_free(&m);
	return 0;
}
