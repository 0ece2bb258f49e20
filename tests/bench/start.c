/* bench-start: start latency, several ways side by side.
 *
 *   bench-start [-n ROUNDS] [-u UID -g GID] ENTRY...
 *
 * ENTRY is "floor" (floor.c, in this process) or "NAME=CMD ARGS..." (run
 * with fork+execvp, as UID:GID when given) or "NAME@root=CMD ..." (as
 * root).  Arguments are split on spaces.  Every round runs each entry once,
 * in an order that rotates, so that noise hits every entry alike; one
 * uncounted warm-up round comes first.  Prints per entry:
 *   NAME median_us p10_us p90_us runs failures
 * Also used to time `corral ps` and `corral status` (stdout is discarded). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "floor.h"

#define MAX_ENTRIES 8
#define MAX_ARGS 32
#define MAX_ROUNDS 100000

struct entry {
	char name[64];
	bool is_floor, as_root;
	char *argv[MAX_ARGS + 1];
	long long *us;
	int n, fails;
};

static uid_t run_uid;
static gid_t run_gid;
static bool have_user;

static void die(const char *what, const struct cerr *e)
{
	fprintf(stderr, "bench-start: %s: %s\n", what, e->msg);
	exit(1);
}

static int parse_entry(struct entry *en, char *spec, int rounds, struct cerr *e)
{
	char *eq, *save = NULL, *tok;
	int argc = 0;

	memset(en, 0, sizeof *en);
	en->us = calloc((size_t)rounds, sizeof *en->us);
	if (!en->us)
		return cerr_sys(e, "calloc");
	if (strcmp(spec, "floor") == 0) {
		en->is_floor = true;
		strcpy(en->name, "floor");
		return 0;
	}
	eq = strchr(spec, '=');
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof en->name)
		return cerr_set(e, EINVAL, "entry '%s' is not NAME=COMMAND", spec);
	*eq = 0;
	snprintf(en->name, sizeof en->name, "%s", spec);
	if (strlen(en->name) > 5 && strcmp(en->name + strlen(en->name) - 5, "@root") == 0) {
		en->as_root = true;
		en->name[strlen(en->name) - 5] = 0;
	}
	for (tok = strtok_r(eq + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (argc == MAX_ARGS)
			return cerr_set(e, E2BIG, "entry %s: more than %d words",
					en->name, MAX_ARGS);
		en->argv[argc++] = tok;
	}
	if (argc == 0)
		return cerr_set(e, EINVAL, "entry %s: empty command", en->name);
	return 0;
}

static void child_exec(const struct entry *en)
{
	int null = open("/dev/null", O_WRONLY);

	if (null >= 0)
		dup2(null, 1);
	if (!en->as_root && have_user &&
	    (setgroups(1, &run_gid) < 0 || setresgid(run_gid, run_gid, run_gid) < 0 ||
	     setresuid(run_uid, run_uid, run_uid) < 0)) {
		perror("bench-start: dropping to the bench user");
		_exit(126);
	}
	execvp(en->argv[0], en->argv);
	perror(en->argv[0]);
	_exit(127);
}

static int run_cmd(const struct entry *en, struct cerr *e)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return cerr_sys(e, "fork");
	if (pid == 0)
		child_exec(en);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cerr_sys(e, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cerr_set(e, ECHILD, "%s ended with status 0x%x", en->name,
				status);
	return 0;
}

static void run_once(struct entry *en, const struct floor *fl, int seq, bool count)
{
	struct cerr e = { 0 };
	char cg[32];
	long long t0 = now_ns();
	int rc;

	snprintf(cg, sizeof cg, "s%d", seq);
	rc = en->is_floor ? floor_run(fl, cg, &e) : run_cmd(en, &e);
	if (!count)
		return;
	if (rc < 0) {
		if (en->fails++ < 3)
			fprintf(stderr, "bench-start: %s: %s\n", en->name, e.msg);
		return;
	}
	en->us[en->n++] = (now_ns() - t0) / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void report(struct entry *en)
{
	if (en->n == 0) {
		printf("%s - - - 0 %d\n", en->name, en->fails);
		return;
	}
	qsort(en->us, (size_t)en->n, sizeof *en->us, cmp_ll);
	printf("%s %lld %lld %lld %d %d\n", en->name, en->us[en->n / 2],
	       en->us[en->n / 10], en->us[en->n * 9 / 10], en->n, en->fails);
}

int main(int argc, char **argv)
{
	struct entry en[MAX_ENTRIES];
	struct floor fl = { .base_fd = -1 };
	struct cerr e = { 0 };
	int rounds = 50, nen = 0, opt, seq = 0;
	bool need_floor = false;

	while ((opt = getopt(argc, argv, "n:u:g:")) != -1) {
		switch (opt) {
		case 'n': rounds = atoi(optarg); break;
		case 'u': run_uid = (uid_t)atoi(optarg); have_user = true; break;
		case 'g': run_gid = (gid_t)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench-start [-n ROUNDS] [-u UID -g GID] ENTRY...\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || optind >= argc ||
	    argc - optind > MAX_ENTRIES) {
		fprintf(stderr, "bench-start: 1-%d rounds and 1-%d entries\n",
			MAX_ROUNDS, MAX_ENTRIES);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (parse_entry(&en[nen], argv[i], rounds, &e) < 0)
			die("arguments", &e);
		need_floor |= en[nen++].is_floor;
	}
	if (need_floor && floor_init(&fl, &e) < 0)
		die("floor", &e);
	for (int r = -1; r < rounds; r++)
		for (int k = 0; k < nen; k++)
			run_once(&en[((r < 0 ? 0 : r) + k) % nen], &fl, seq++, r >= 0);
	floor_fini(&fl);
	for (int k = 0; k < nen; k++)
		report(&en[k]);
	return 0;
}
