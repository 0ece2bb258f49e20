/* helper.conf's [network NAME] sections and the decisions on them
 * (helper/policy.c): what is accepted, every refusal, the pool, the
 * quota, who may use a network; and --network's value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "policy.h"

#define HEAD "[helper]\nmanager_user = corrald\ncgroup_base = /corral\n"

/* The example, as an admin would copy it. */
static const char example[] = HEAD
	"[network lab]\n"
	"bridge = br-lab\n"
	"subnet = 10.99.0.0/24\n"
	"gateway = 10.99.0.1\n"
	"pool = 10.99.0.10-10.99.0.200\n"
	"users = alice, @builders\n"
	"max_per_user = 4\n";

static struct policy pol;

static uint32_t ip(const char *s)
{
	struct cerr e;
	uint32_t a = 0;

	assert_int_equal(parse_ipv4(s, &a, &e), 0);
	return a;
}

static void test_example(void **state)
{
	struct cerr e = { 0 };
	const struct policy_net *n = &pol.nets[0];

	if (policy_parse(example, strlen(example), &pol, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(pol.nnets, 1);
	assert_string_equal(n->name, "lab");
	assert_string_equal(n->bridge, "br-lab");
	assert_int_equal(n->subnet, ip("10.99.0.0"));
	assert_int_equal(n->prefix, 24);
	assert_int_equal(n->gateway, ip("10.99.0.1"));
	assert_int_equal(n->pool_lo, ip("10.99.0.10"));
	assert_int_equal(n->pool_hi, ip("10.99.0.200"));
	assert_int_equal(n->nusers, 1);
	assert_string_equal(n->users[0], "alice");
	assert_int_equal(n->ngroups, 1);
	assert_string_equal(n->groups[0], "builders");
	assert_int_equal(n->max_per_user, 4);
	assert_true(n->antispoof);
	assert_int_equal(policy_net_find(&pol, "lab"), 0);
	assert_int_equal(policy_net_find(&pol, "la"), -1);
}

static void bad(const char *section, const char *needle)
{
	char text[2048];
	struct cerr e = { 0 };
	struct policy *p = &pol;

	snprintf(text, sizeof text, HEAD "%s", section);
	assert_int_equal(policy_parse(text, strlen(text), p, &e), -1);
	if (!strstr(e.msg, needle))
		fail_msg("\"%s\": error \"%s\" does not say \"%s\"", section, e.msg, needle);
}

#define NET "[network n]\nbridge = br0\nsubnet = 10.0.0.0/24\n"

static void test_refusals(void **state)
{
	bad(NET "pool = 10.0.1.10-10.0.1.20\n", "pool is not within the subnet");
	bad(NET "pool = 10.0.0.0-10.0.0.20\n", "pool is not within the subnet");
	bad(NET "pool = 10.0.0.10-10.0.0.255\n", "pool is not within the subnet");
	bad(NET "pool = 10.0.0.20-10.0.0.10\n", "ends before it starts");
	bad(NET "pool = 10.0.0.10-10.0.0.20\ngateway = 10.0.0.15\n", "pool holds the gateway");
	bad(NET "pool = 10.0.0.10-10.0.0.20\ngateway = 10.0.1.1\n", "gateway is not a host");
	bad(NET "pool = 10.0.0.10\n", "is not A.B.C.D-A.B.C.D");
	bad(NET "pool = 10.0.0.10-10.0.0.020\n", "not an IPv4 address");
	bad(NET "pool = 10.0.0.10-10.0.0.20\nmax_per_user = 0\n", "max_per_user");
	bad(NET "pool = 10.0.0.10-10.0.0.20\nantispoof = maybe\n", "antispoof");
	bad(NET "pool = 10.0.0.10-10.0.0.20\nmtu = 9000\n", "unknown key \"mtu\" in [network n]");
	bad("[network n]\nsubnet = 10.0.0.1/24\n", "host bits set");
	bad("[network n]\nsubnet = 10.0.0.0/31\n", "not 8 to 30");
	bad("[network n]\nsubnet = 10.1/8\n", "not an IPv4 address");
	bad("[network n]\nbridge = br/../x\n", "not an interface name");
	bad("[network n]\nbridge = abcdefghijklmnop\n", "not an interface name");
	bad("[network n]\nbridge = br0\npool = 10.0.0.1-10.0.0.2\n", "needs bridge, subnet and pool");
	bad("[network n]\nbridge = br0\n[network n]\nbridge = br1\n", "given twice");
	bad("[network -x]\nbridge = br0\n", "not a network name");
	bad("[network abcdefghijabcdefghijabcdefghijabc]\nbridge = br0\n", "not a network name");
	bad("[net n]\nbridge = br0\n", "unknown section [net n]");
}

static void test_many(void **state)
{
	char text[8192];
	size_t n = snprintf(text, sizeof text, HEAD);
	struct cerr e = { 0 };

	for (int i = 0; i <= POLICY_NETS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
				      "[network n%d]\nbridge = br%d\nsubnet = 10.%d.0.0/16\n"
				      "pool = 10.%d.0.2-10.%d.0.9\n", i, i, i, i, i);
	assert_int_equal(policy_parse(text, n, &pol, &e), -1);
	assert_non_null(strstr(e.msg, "more than 16 networks"));
}

static void test_pick(void **state)
{
	struct cerr e = { 0 };
	const struct policy_net *n = &pol.nets[0];
	uint32_t taken[3], out = 0;

	assert_int_equal(policy_parse(example, strlen(example), &pol, &e), 0);
	/* the lowest free address */
	assert_int_equal(net_pick(n, 0, NULL, 0, 0, &out, &e), 0);
	assert_int_equal(out, ip("10.99.0.10"));
	taken[0] = ip("10.99.0.10");
	taken[1] = ip("10.99.0.11");
	assert_int_equal(net_pick(n, 0, taken, 2, 0, &out, &e), 0);
	assert_int_equal(out, ip("10.99.0.12"));
	/* a given address: in the pool and free */
	assert_int_equal(net_pick(n, ip("10.99.0.200"), taken, 2, 0, &out, &e), 0);
	assert_int_equal(out, ip("10.99.0.200"));
	assert_int_equal(net_pick(n, ip("10.99.0.11"), taken, 2, 0, &out, &e), -1);
	assert_int_equal(e.num, EADDRINUSE);
	assert_non_null(strstr(e.msg, "10.99.0.11 is taken"));
	assert_int_equal(net_pick(n, ip("10.99.0.201"), taken, 2, 0, &out, &e), -1);
	assert_non_null(strstr(e.msg, "10.99.0.201 is outside the pool 10.99.0.10-10.99.0.200"));
	assert_int_equal(net_pick(n, ip("10.99.0.1"), taken, 2, 0, &out, &e), -1);
	/* the quota, whatever is asked for */
	assert_int_equal(net_pick(n, 0, taken, 2, 4, &out, &e), -1);
	assert_int_equal(e.num, EDQUOT);
	assert_non_null(strstr(e.msg, "max_per_user"));
	assert_int_equal(net_pick(n, 0, taken, 2, 3, &out, &e), 0);
}

static void test_pool_exhausted(void **state)
{
	static const char text[] = HEAD "[network s]\nbridge = b\nsubnet = 10.0.0.0/30\n"
		"pool = 10.0.0.1-10.0.0.2\n";
	struct cerr e = { 0 };
	uint32_t taken[2] = { ip("10.0.0.1"), ip("10.0.0.2") }, out;

	assert_int_equal(policy_parse(text, strlen(text), &pol, &e), 0);
	assert_int_equal(net_pick(&pol.nets[0], 0, taken, 2, 0, &out, &e), -1);
	assert_int_equal(e.num, EADDRNOTAVAIL);
	assert_non_null(strstr(e.msg, "every address of the pool is taken"));
}

static void test_members(void **state)
{
	struct cerr e = { 0 };
	struct policy_net *n = &pol.nets[0];
	gid_t mine[2] = { 100, 4242 };

	assert_int_equal(policy_parse(example, strlen(example), &pol, &e), 0);
	n->gids[0] = 4242;	/* @builders, as policy_load resolves it */
	assert_int_equal(net_member_check(n, "alice", NULL, 0, &e), 0);
	assert_int_equal(net_member_check(n, "bob", mine, 2, &e), 0);
	assert_int_equal(net_member_check(n, "bob", mine, 1, &e), -1);
	assert_int_equal(e.num, EPERM);
	assert_non_null(strstr(e.msg, "user bob may not use it"));
	/* names are whole: no prefix matches */
	assert_int_equal(net_member_check(n, "alic", NULL, 0, &e), -1);
	assert_int_equal(net_member_check(n, "alice2", NULL, 0, &e), -1);
}

static void test_netref(void **state)
{
	char name[NET_NAME_MAX + 1];
	struct cerr e = { 0 };
	uint32_t a;

	assert_int_equal(parse_netref("lab", name, &a, &e), 0);
	assert_string_equal(name, "lab");
	assert_int_equal(a, 0);
	assert_int_equal(parse_netref("lab=10.99.0.7", name, &a, &e), 0);
	assert_int_equal(a, ip("10.99.0.7"));
	static const char *const no[] = {
		"", "=10.0.0.1", "Lab", "lab=", "lab=10.0.0", "lab=10.0.0.1.2",
		"lab=10.0.0.256", "lab=010.0.0.1", "lab=0.0.0.0", "lab=10.0.0.1 ",
		"lab=+1.0.0.1", "-lab", "lab/x", "abcdefghijabcdefghijabcdefghijabc",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (parse_netref(no[i], name, &a, &e) == 0)
			fail_msg("\"%s\" accepted", no[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_netref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
