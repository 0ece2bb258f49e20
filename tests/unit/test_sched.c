/* The queue's order (manager/sched.c): given what runs and what waits,
 * which jobs start next, under the global and the per-user caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

#define A 1001
#define B 1002
#define C 1003

static size_t order(uint32_t max_running, uint32_t user_max, uint32_t running,
		    struct sched_user *u, size_t nu, struct sched_job *j,
		    size_t n, uint32_t *out, size_t max)
{
	struct sched_caps caps = { max_running, user_max };
	uint64_t clock = 100;

	for (size_t i = 0; i < n; i++)
		j[i].idx = (uint32_t)i;
	return sched_order(&caps, running, u, nu, j, n, &clock, out, max);
}

/* The user with the fewest running goes first, whoever came first. */
static void test_fewest_running_first(void **state)
{
	struct sched_user u[] = { { A, 2, 10 }, { B, 0, 5 } };
	struct sched_job j[] = { { A, 0, 1, 0 }, { A, 0, 2, 0 }, { B, 0, 3, 0 } };
	uint32_t out[3];

	(void)state;
	assert_int_equal(order(10, 10, 2, u, 2, j, 3, out, 1), 1);
	assert_int_equal(out[0], 2);
	assert_int_equal(u[1].running, 1);
}

/* Equal running: turns by the oldest last start, then arrival. */
static void test_round_robin(void **state)
{
	struct sched_user u[] = { { A, 0, 0 }, { B, 0, 0 }, { C, 0, 0 } };
	struct sched_job j[9];
	uint32_t out[9];
	uint32_t who[9];

	(void)state;
	/* A's three arrived first, then B's, then C's. */
	for (int i = 0; i < 9; i++)
		j[i] = (struct sched_job){ i < 3 ? A : i < 6 ? B : C, 0, (uint64_t)i + 1, 0 };
	assert_int_equal(order(100, 100, 0, u, 3, j, 9, out, 9), 9);
	for (int i = 0; i < 9; i++)
		who[i] = out[i] < 3 ? A : out[i] < 6 ? B : C;
	for (int i = 0; i < 9; i++)
		assert_int_equal(who[i], i % 3 == 0 ? A : i % 3 == 1 ? B : C);
	/* FIFO within a user. */
	assert_int_equal(out[0], 0);
	assert_int_equal(out[3], 1);
	assert_int_equal(out[6], 2);
}

/* Within a user, the highest priority first, then arrival; another
 * user's priority does not jump the turns. */
static void test_priority_within_user(void **state)
{
	struct sched_user u[] = { { A, 0, 1 }, { B, 0, 2 } };
	struct sched_job j[] = {
		{ A, 0, 1, 0 }, { A, 5, 2, 0 }, { A, 5, 3, 0 }, { B, 900, 4, 0 },
	};
	uint32_t out[4];

	(void)state;
	assert_int_equal(order(100, 100, 0, u, 2, j, 4, out, 4), 4);
	assert_int_equal(out[0], 1);	/* A (older last start), priority 5, oldest */
	assert_int_equal(out[1], 3);	/* B's turn */
	assert_int_equal(out[2], 2);
	assert_int_equal(out[3], 0);
}

/* The caps: no pick past the global cap, none for a user at its own. */
static void test_caps(void **state)
{
	struct sched_user u[] = { { A, 2, 1 }, { B, 1, 2 } };
	struct sched_job j[] = { { A, 0, 1, 0 }, { B, 0, 2, 0 }, { B, 0, 3, 0 } };
	uint32_t out[3];

	(void)state;
	assert_int_equal(order(4, 2, 3, u, 2, j, 3, out, 3), 1);
	assert_int_equal(out[0], 1);	/* B's first; then 4 of 4 run */
	u[0].running = 2, u[1].running = 1;
	assert_int_equal(order(10, 2, 3, u, 2, j, 3, out, 3), 1);	/* A at 2 */
	assert_int_equal(order(3, 2, 3, u, 2, j, 3, out, 3), 0);	/* full */
	assert_int_equal(order(10, 2, 0, u, 2, j, 3, out, 0), 0);	/* max 0 */
}

/* A user the caller did not list is a newcomer with nothing running. */
static void test_unknown_user(void **state)
{
	struct sched_user u[] = { { A, 1, 7 } };
	struct sched_job j[] = { { A, 0, 1, 0 }, { C, 0, 2, 0 } };
	uint32_t out[2];

	(void)state;
	assert_int_equal(order(10, 10, 1, u, 1, j, 2, out, 2), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);
}

/* 3 users, 20 jobs each, cap 4 and 2 per user: every user gets at least
 * 3 of the first 12 starts, never more than 2 at once. */
static void test_fair_share(void **state)
{
	struct sched_user u[3] = { { A, 0, 0 }, { B, 0, 0 }, { C, 0, 0 } };
	struct sched_job j[60];
	uint32_t out[60], got[3] = { 0 };
	uint64_t clock = 0;
	struct sched_caps caps = { 4, 2 };
	size_t n = 60, started = 0;

	(void)state;
	for (int i = 0; i < 60; i++)
		j[i] = (struct sched_job){ i < 20 ? A : i < 40 ? B : C, 0, (uint64_t)i, (uint32_t)i };
	while (started < 12) {
		size_t k = sched_order(&caps, u[0].running + u[1].running + u[2].running,
				       u, 3, j, n, &clock, out, 4);
		for (size_t i = 0; i < k; i++) {
			uint32_t who = out[i] < 20 ? 0 : out[i] < 40 ? 1 : 2;
			got[who]++;
			/* remove it from the queue */
			for (size_t x = 0; x < n; x++)
				if (j[x].idx == out[i]) {
					j[x] = j[--n];
					break;
				}
		}
		started += k;
		for (int x = 0; x < 3; x++)
			assert_true(u[x].running <= 2);
		/* the oldest running job of the busiest user ends */
		for (int x = 0; x < 3; x++)
			if (u[x].running == 2) {
				u[x].running--;
				break;
			}
	}
	for (int x = 0; x < 3; x++)
		assert_true(got[x] >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fewest_running_first),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_priority_within_user),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_fair_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
