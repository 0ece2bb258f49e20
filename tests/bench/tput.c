/* bench-tput: jobs started and finished per second with C concurrent
 * clients, for 'floor' (floor.c in C threads, as root) or 'corral'
 * (libcorral: RUN `true`, then FOLLOW with no streams to wait for its end;
 * one connection per thread, as UID:GID).
 *
 *   bench-tput -c CONC -t SECONDS [-j JOBS] [-u UID -g GID] floor|corral
 *
 * With -j it stops after JOBS jobs (or SECONDS, whichever comes first).
 * Prints: jobs_per_s jobs seconds [run_us wait_us]
 * where run_us is the mean RUN -> STARTED time and wait_us the mean
 * STARTED -> final record time (corral only). */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "floor.h"
#include "libcorral.h"

#define MAX_CONC 256

struct worker {
	pthread_t th;
	int idx;
	long long jobs, run_ns, wait_ns;
	bool failed;
	struct cerr err;
};

static long long deadline;
static bool has_budget;
static long long budget;	/* -j: jobs left to start, shared */

/* Another job to start?  Until the deadline, and the budget if any. */
static bool more(void)
{
	if (now_ns() >= deadline)
		return false;
	return !has_budget || __atomic_sub_fetch(&budget, 1, __ATOMIC_RELAXED) >= 0;
}
static struct floor fl = { .base_fd = -1 };

static void *floor_worker(void *arg)
{
	struct worker *w = arg;
	char name[48];

	while (more()) {
		snprintf(name, sizeof name, "t%d-%lld", w->idx, w->jobs);
		if (floor_run(&fl, name, &w->err) < 0) {
			w->failed = true;
			break;
		}
		w->jobs++;
	}
	return NULL;
}

/* One job: RUN true, then wait for its end and check it exited 0. */
static int corral_one(struct corral_conn *c, struct worker *w)
{
	static const char *const argv[] = { "true" };
	struct corral_run_req req = { .argv = argv, .argc = 1, .cwd = "/" };
	struct corral_job job;
	char id[JOB_ID_LEN + 1];
	long long t0 = now_ns(), t1;
	int ok;

	if (corral_run(c, &req, id, &w->err) < 0)
		return cerr_wrap(&w->err, "run");
	t1 = now_ns();
	if (corral_follow(c, id, 0, true, NULL, NULL, &job, &w->err) < 0)
		return cerr_wrap(&w->err, "wait for %s", id);
	ok = job.state && strcmp(job.state, "exited") == 0 && job.has_exit_code &&
	     job.exit_code == 0;
	if (!ok)
		cerr_set(&w->err, ECHILD, "job %s ended %s", id,
			 job.state ? job.state : "?");
	corral_job_free(&job);
	if (!ok)
		return -1;
	w->run_ns += t1 - t0;
	w->wait_ns += now_ns() - t1;
	return 0;
}

static void *corral_worker(void *arg)
{
	struct worker *w = arg;
	struct corral_conn c;

	if (corral_connect(&c, corral_socket_path(NULL), &w->err) < 0) {
		w->failed = true;
		return NULL;
	}
	while (more()) {
		if (corral_one(&c, w) < 0) {
			w->failed = true;
			break;
		}
		w->jobs++;
	}
	corral_close(&c);
	return NULL;
}

static void drop_to(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		perror("bench-tput: dropping to the bench user");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_CONC];
	struct cerr e = { 0 };
	int conc = 1, opt, failed = 0;
	double secs = 3;
	long long jobs = 0, run_ns = 0, wait_ns = 0, t0, el;
	bool is_floor, have_user = false;
	uid_t uid = 0;
	gid_t gid = 0;

	while ((opt = getopt(argc, argv, "c:t:j:u:g:")) != -1) {
		switch (opt) {
		case 'j': budget = atoll(optarg); has_budget = true; break;
		case 'c': conc = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'u': uid = (uid_t)atoi(optarg); have_user = true; break;
		case 'g': gid = (gid_t)atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || conc < 1 || conc > MAX_CONC || secs <= 0 || secs > 3600)
		goto usage;
	is_floor = strcmp(argv[optind], "floor") == 0;
	if (!is_floor && strcmp(argv[optind], "corral") != 0)
		goto usage;
	if (is_floor && floor_init(&fl, &e) < 0) {
		fprintf(stderr, "bench-tput: floor: %s\n", e.msg);
		return 1;
	}
	if (!is_floor && have_user)
		drop_to(uid, gid);
	t0 = now_ns();
	deadline = t0 + (long long)(secs * 1e9);
	for (int i = 0; i < conc; i++) {
		w[i].idx = i;
		if (pthread_create(&w[i].th, NULL, is_floor ? floor_worker : corral_worker,
				   &w[i]) != 0) {
			fprintf(stderr, "bench-tput: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < conc; i++) {
		pthread_join(w[i].th, NULL);
		jobs += w[i].jobs;
		run_ns += w[i].run_ns;
		wait_ns += w[i].wait_ns;
		if (w[i].failed && failed++ < 3)
			fprintf(stderr, "bench-tput: client %d: %s\n", i, w[i].err.msg);
	}
	el = now_ns() - t0;
	floor_fini(&fl);
	printf("%.1f %lld %.3f", jobs / (el / 1e9), jobs, el / 1e9);
	if (!is_floor && jobs)
		printf(" %lld %lld", run_ns / jobs / 1000, wait_ns / jobs / 1000);
	printf("\n");
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: bench-tput -c CONC -t SECONDS [-j JOBS] [-u UID -g GID] floor|corral\n");
	return 2;
}
