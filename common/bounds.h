/* Bounds and sizes every corral process shares, each defined once. */
#ifndef CORRAL_BOUNDS_H
#define CORRAL_BOUNDS_H

#define JOB_ID_LEN 36		/* a lower-case UUID */
#define REF_PREFIX_MIN 4	/* shortest id prefix a job reference may be */
#define ARGV_MAX 1024		/* argv entries */
#define ARG_LEN_MAX 8192	/* one argv entry */
#define ENV_MAX 1024		/* env entries */
#define ENV_LEN_MAX 8192	/* one env entry */
#define PATH_LEN_MAX 4096
#define NAME_LEN_MAX 64		/* a job name, and a job reference */
#define USER_LEN_MAX 64		/* a user name */
#define CPUSET_LEN_MAX 256
#define LOG_CHUNK_MAX 65536	/* bytes in one LOG_DATA */
#define INPUT_CHUNK_MAX 65536	/* bytes in one INPUT (-i, -t): corrald holds
				 * at most one per job it cannot write yet */
#define CPU_PERIOD_USEC 100000	/* the cpu.max period corral writes */
#define GROUPS_MAX 65536	/* supplementary groups of one user */
#define GRACE_MS_MAX (3600ull * 1000)	/* a stop's grace: an hour at most */
#define MESSAGE_LEN_MAX 1024	/* an error message on the wire */
#define VIA_LEN_MAX 64		/* a client's note on its transport (VIA) */
#define LIST_LIMIT_MAX 100000	/* rows one ps or audit shows; clients ask
				 * for one more, to know there are more */
#define PRIORITY_MAX 1000	/* --priority: admins up to this */
#define PRIORITY_USER_MAX 100	/* --priority: everyone else up to this */
#define NET_NAME_MAX 31		/* a helper.conf [network NAME] */
#define NETREF_LEN_MAX 48	/* --network NAME[=A.B.C.D] */
#define NET_ADDRESS_LEN_MAX 48	/* a job's address as shown: A.B.C.D/N */
#define NET_MAC_LEN 17		/* 02:xx:xx:xx:xx:xx */

#endif
