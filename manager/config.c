/* corrald.conf: one [corrald] section; unknown keys are errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cleanup.h"
#include "conf.h"
#include "mgr.h"
#include "parse.h"

#ifndef CORRAL_DEFAULT_SOCKET
#define CORRAL_DEFAULT_SOCKET "/run/corral/corral.sock"
#endif
#ifndef CORRALD_HELPER
#define CORRALD_HELPER "/usr/libexec/corral/corral-helper"
#endif

struct ctx {
	struct mgr_conf *c;
	const char *name;
};

static int set_str(char **dst, const char *v, bool path, const char *name,
		   int line, const char *key, struct cerr *e)
{
	char *d;

	if (!*v)
		return cerr_set(e, EINVAL, "%s:%d: %s is empty", name, line, key);
	if (path && v[0] != '/')
		return cerr_set(e, EINVAL, "%s:%d: %s \"%s\" is not an absolute path",
				name, line, key, v);
	d = strdup(v);
	if (!d)
		return cerr_sys(e, "%s", name);
	free(*dst);
	*dst = d;
	return 0;
}

static int set_num(uint64_t *dst, const char *v, int (*fn)(const char *,
		   uint64_t *, struct cerr *), uint64_t lo, uint64_t hi,
		   const char *name, int line, const char *key, struct cerr *e)
{
	if (fn(v, dst, e) < 0)
		return cerr_wrap(e, "%s:%d: %s", name, line, key);
	if (*dst < lo || *dst > hi)
		return cerr_set(e, ERANGE, "%s:%d: %s = %s is out of range",
				name, line, key, v);
	return 0;
}

static int on_key(void *p, const char *section, const char *key,
		  const char *v, int line, struct cerr *e)
{
	struct ctx *x = p;
	struct mgr_conf *c = x->c;
	const char *n = x->name;

	if (strcmp(section, "corrald"))
		return cerr_set(e, EINVAL, "%s:%d: key \"%s\" outside [corrald] (section \"%s\")",
				n, line, key, section);
	if (!strcmp(key, "socket")) {
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return cerr_set(e, ENAMETOOLONG, "%s:%d: socket path is too long",
					n, line);
		return set_str(&c->socket, v, true, n, line, key, e);
	}
	if (!strcmp(key, "socket_group"))
		return set_str(&c->socket_group, v, false, n, line, key, e);
	if (!strcmp(key, "admin_group"))
		return set_str(&c->admin_group, v, false, n, line, key, e);
	if (!strcmp(key, "state_dir"))
		return set_str(&c->state_dir, v, true, n, line, key, e);
	if (!strcmp(key, "helper"))
		return set_str(&c->helper, v, true, n, line, key, e);
	if (!strcmp(key, "log_max_bytes"))
		return set_num(&c->log_max_bytes, v, parse_size, 0,
			       (uint64_t)1 << 50, n, line, key, e);
	if (!strcmp(key, "stop_grace"))
		return set_num(&c->stop_grace_ms, v, parse_duration_ms, 0,
			       3600 * 1000, n, line, key, e);
	if (!strcmp(key, "max_clients"))
		return set_num(&c->max_clients, v, parse_u64, 1, 1000000, n,
			       line, key, e);
	if (!strcmp(key, "admin_clients"))
		return set_num(&c->admin_clients, v, parse_u64, 0, 1000000, n,
			       line, key, e);
	if (!strcmp(key, "max_clients_per_user"))
		return set_num(&c->max_clients_per_user, v, parse_u64, 1,
			       1000000, n, line, key, e);
	if (!strcmp(key, "request_buffer_max"))
		return set_num(&c->request_buffer_max, v, parse_size, 256 << 10,
			       (uint64_t)1 << 32, n, line, key, e);
	if (!strcmp(key, "log_keep"))
		return set_num(&c->log_keep_ms, v, parse_duration_ms, 0,
			       100ull * 365 * 86400000, n, line, key, e);
	if (!strcmp(key, "job_keep"))
		return set_num(&c->job_keep_ms, v, parse_duration_ms, 0,
			       100ull * 365 * 86400000, n, line, key, e);
	if (!strcmp(key, "audit_keep"))
		return set_num(&c->audit_keep_ms, v, parse_duration_ms, 0,
			       100ull * 365 * 86400000, n, line, key, e);
	if (!strcmp(key, "log_space"))
		return set_num(&c->log_space, v, parse_size, 0,
			       (uint64_t)1 << 60, n, line, key, e);
	if (!strcmp(key, "user_log_space"))
		return set_num(&c->user_log_space, v, parse_size, 0,
			       (uint64_t)1 << 60, n, line, key, e);
	if (!strcmp(key, "max_running"))
		return set_num(&c->max_running, v, parse_u64, 0, 1000000, n,
			       line, key, e);
	if (!strcmp(key, "user_max_running"))
		return set_num(&c->user_max_running, v, parse_u64, 0, 1000000,
			       n, line, key, e);
	if (!strcmp(key, "user_max_queued"))
		return set_num(&c->user_max_queued, v, parse_u64, 0, 1000000,
			       n, line, key, e);
	if (!strcmp(key, "client_idle_timeout"))
		return set_num(&c->client_idle_ms, v, parse_duration_ms, 100,
			       24 * 3600 * 1000, n, line, key, e);
	return cerr_set(e, EINVAL, "%s:%d: unknown key \"%s\"", n, line, key);
}

static int defaults(struct mgr_conf *c, struct cerr *e)
{
	memset(c, 0, sizeof *c);
	c->socket = strdup(CORRAL_DEFAULT_SOCKET);
	c->socket_group = strdup("corral");
	c->admin_group = strdup("corral-admin");
	c->state_dir = strdup("/var/lib/corral");
	c->helper = strdup(CORRALD_HELPER);
	c->log_max_bytes = 64ull << 20;
	c->stop_grace_ms = 10000;
	c->max_clients = 1024;
	c->admin_clients = UINT64_MAX;	/* unset: max_clients / 32 */
	c->max_clients_per_user = 64;
	c->client_idle_ms = 10000;
	c->request_buffer_max = 32ull << 20;
	c->log_keep_ms = 30ull * 86400000;
	c->job_keep_ms = 400ull * 86400000;
	c->audit_keep_ms = 400ull * 86400000;
	c->log_space = 20ull << 30;
	c->user_log_space = 5ull << 30;
	c->user_max_queued = 1000;	/* max_running, user_max_running 0: the helper's */
	if (!c->socket || !c->socket_group || !c->admin_group ||
	    !c->state_dir || !c->helper)
		return cerr_sys(e, "configuration");
	return 0;
}

int mconf_load(struct mgr_conf *c, const char *path, struct cerr *e)
{
	_cleanup_close_ int fd = -1;
	struct ctx x = { c, path };

	if (defaults(c, e) < 0)
		return -1;
	c->path = strdup(path);
	if (!c->path)
		return cerr_sys(e, "configuration");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cerr_sys(e, "%s", path);
	if (conf_parse_fd(fd, path, on_key, &x, e) < 0)
		return -1;
	if (c->admin_clients == UINT64_MAX)
		c->admin_clients = c->max_clients / 32;
	/* Members must be able to connect at all. */
	else if (c->admin_clients >= c->max_clients)
		return cerr_set(e, EINVAL, "%s: admin_clients = %llu must be below max_clients = %llu",
				path, (unsigned long long)c->admin_clients,
				(unsigned long long)c->max_clients);
	return 0;
}

void mconf_free(struct mgr_conf *c)
{
	free(c->path);
	free(c->socket);
	free(c->socket_group);
	free(c->admin_group);
	free(c->state_dir);
	free(c->helper);
	memset(c, 0, sizeof *c);
}
