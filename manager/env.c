/* A job's environment, composed in corrald and nowhere else (the client
 * sends only what the user set; the helper passes on what it gets). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "proto.h"

#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define IDENTITY_MAX 4		/* USER, LOGNAME, HOME, SHELL */

static bool has_var(const struct job_env *env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], key, n) && env->v[i][n] == '=')
			return true;
	return false;
}

/* Append "key=value" into own storage at *used, unless it is set or does
 * not fit (a value longer than an env entry may be is left out, as a
 * login would fail to set it too). */
static void add(struct job_env *env, size_t cap, size_t *used,
		const char *key, const char *value)
{
	int n;

	if (!value || !value[0] || has_var(env, key) || env->n >= ENV_MAX)
		return;
	n = snprintf(env->own + *used, cap - *used, "%s=%s", key, value);
	if (n < 0 || (size_t)n >= cap - *used || (size_t)n > ENV_LEN_MAX)
		return;
	env->v[env->n++] = env->own + *used;
	*used += (size_t)n + 1;
}

/* What a login gives, as systemd does for User=: USER, LOGNAME, HOME and
 * SHELL from the user's passwd entry, unless the client set them; and a
 * PATH unless the client gave one. */
int job_env_compose(const struct wire_msg *run, uint32_t uid,
		    struct job_env *env, struct cerr *e)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	const struct wire_val *v;
	size_t cap = IDENTITY_MAX * (ENV_LEN_MAX + 1), used = 0;

	memset(env, 0, sizeof *env);
	for (size_t i = 0; (v = wire_nth(run, F_ENV, i)); i++) {
		if (env->n >= ENV_MAX - IDENTITY_MAX - 1)
			return cerr_set(e, E2BIG, "more than %d environment variables",
					ENV_MAX - IDENTITY_MAX - 1);
		env->v[env->n++] = (const char *)v->p;
	}
	env->own = malloc(cap);
	if (!env->own)
		return cerr_sys(e, "environment");
	if (!has_var(env, "PATH"))
		env->v[env->n++] = DEFAULT_PATH;
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return 0;	/* the helper refuses a user with no entry */
	add(env, cap, &used, "USER", pw.pw_name);
	add(env, cap, &used, "LOGNAME", pw.pw_name);
	add(env, cap, &used, "HOME", pw.pw_dir);
	add(env, cap, &used, "SHELL", pw.pw_shell);
	return 0;
}

void job_env_free(struct job_env *env)
{
	free(env->own);
	env->own = NULL;
	env->n = 0;
}
