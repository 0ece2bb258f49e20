/* Host-tier tests of corral-helper, run as root.  Each test gets a fresh
 * setuid helper (per-test fixture) so a failure cannot leak into the
 * next one; the suite's users, cgroup and directories live for the whole
 * group and are removed by the group teardown and again at exit. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "harness.h"

#define MB (1024ull * 1024)

struct fx {
	struct helper h;
};

static int fx_none(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->h.sock = f->h.pty = -1;
	*state = f;
	return 0;
}

static int fx_default(void **state)
{
	struct fx *f;

	if (fx_none(state) < 0)
		return -1;
	f = *state;
	return helper_start(&f->h, NULL, NULL);
}

static void restore_swap(void)
{
	char link[PATH_MAX + 32], orig[PATH_MAX + 32];
	struct stat st;

	snprintf(link, sizeof link, "%s/rootfs-swap", S.rundir);
	snprintf(orig, sizeof orig, "%s/rootfs-swap.orig", S.rundir);
	if (lstat(orig, &st) == 0) {
		unlink(link);
		rename(orig, link);
	}
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->h.pid > 0)
		helper_stop(&f->h);
	cg_sweep();
	restore_swap();
	policy_restore();
	free(f);
	return 0;
}

/* ---- assertions ------------------------------------------------------- */

#define RUN_OK(h, r, j) do { \
	if (job_run((h), (r), (j)) < 0) \
		fail_msg("job did not start and exit (see above)"); \
} while (0)

/* Run `probe cmd arg` with the defaults and return its stdout. */
static const char *probe_out(struct helper *h, struct job *j, const char *cmd,
			     const char *arg)
{
	struct jobreq r;

	jobreq_init(&r, cmd, arg);
	RUN_OK(h, &r, j);
	if (!WIFEXITED(j->wstatus) || WEXITSTATUS(j->wstatus) != 0) {
		job_dump(j);
		fail_msg("probe %s did not exit 0", cmd);
	}
	return j->outbuf;
}

/* The value of "key=" in a probe line, up to the next space/newline. */
static const char *field(const char *out, const char *key, char *buf, size_t n)
{
	char pat[64];
	const char *p;
	size_t k;

	snprintf(pat, sizeof pat, "%s=", key);
	for (p = out; (p = strstr(p, pat)); p++)
		if (p == out || p[-1] == ' ' || p[-1] == '\n')
			break;
	if (!p)
		fail_msg("no %s in probe output: %s", key, out);
	p += strlen(pat);
	k = strcspn(p, " \n");
	if (k >= n)
		k = n - 1;
	memcpy(buf, p, k);
	buf[k] = '\0';
	return buf;
}

static bool msg_names(const char *msg, const char *const needles[])
{
	if (!needles)
		return msg[0] != '\0';
	for (; *needles; needles++)
		if (strcasestr(msg, *needles))
			return true;
	return false;
}

/* A valid job still runs: the helper kept serving. */
static void still_serving(struct helper *h)
{
	struct job j;
	struct jobreq r;

	assert_int_equal(kill(h->pid, 0), 0);
	jobreq_init(&r, "exit", "0");
	RUN_OK(h, &r, &j);
	assert_true(WIFEXITED(j.wstatus) && WEXITSTATUS(j.wstatus) == 0);
	job_close(&j);
}

/* The reply to a refused START: an ERROR or a START_FAILED naming one of
 * needles, no cgroup directory made, our pipe ends closed by the helper. */
static void refused(struct helper *h, struct job *j, int dirs_before,
		    const char *const needles[])
{
	int rc = job_await_reply(h, j, WAIT_MS);

	if (rc != 1) {
		job_dump(j);
		fail_msg("no reply to a START the helper should refuse (rc %d)", rc);
	}
	if (j->reply == H_STARTED) {
		job_dump(j);
		fail_msg("the helper started a job it should have refused");
	}
	if (!msg_names(j->msg, needles)) {
		job_dump(j);
		fail_msg("refusal message \"%s\" does not name %s", j->msg,
			 needles ? needles[0] : "anything");
	}
	assert_int_equal(count_cg_dirs(), dirs_before);
	if (!pipes_closed(j, 2000))
		fail_msg("the helper kept the job's pipe ends after refusing");
	job_close(j);
}

/* Warm up (so per-uid directories exist), then count what is there. */
static int baseline(struct helper *h)
{
	still_serving(h);
	return count_cg_dirs();
}

static void expect_refused(struct helper *h, const struct jobreq *r,
			   const char *const needles[])
{
	int before = baseline(h);
	struct job j;

	assert_int_equal(job_send(h, r, &j), 0);
	refused(h, &j, before, needles);
	still_serving(h);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- the job's identity and confinement ------------------------------ */

static void test_ready(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX + 32], want[300] = "";
	int fd, n;

	assert_int_equal(f->h.ready_pid, (uint32_t)f->h.pid);
	snprintf(p, sizeof p, "%s/cgroup.controllers", S.cg_base);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = (int)read(fd, want, sizeof want - 1);
	close(fd);
	want[n > 0 ? n : 0] = '\0';
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(f->h.controllers, want);
}

static bool has_gid(const char *list, gid_t g)
{
	char copy[512], *save = NULL;

	snprintf(copy, sizeof copy, "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if ((gid_t)strtoul(t, NULL, 10) == g)
			return true;
	return false;
}

static void test_ids(void **state)
{
	struct fx *f = *state;
	struct job j;
	char uid[64], gid[64], groups[512], want[64];
	const char *out = probe_out(&f->h, &j, "ids", NULL);
	int n = 0;

	snprintf(want, sizeof want, "%u,%u,%u", S.job_uid, S.job_uid, S.job_uid);
	assert_string_equal(field(out, "uid", uid, sizeof uid), want);
	snprintf(want, sizeof want, "%u,%u,%u", S.job_gid, S.job_gid, S.job_gid);
	assert_string_equal(field(out, "gid", gid, sizeof gid), want);
	field(out, "groups", groups, sizeof groups);
	assert_true(has_gid(groups, S.job_gid));
	assert_true(has_gid(groups, S.grp_gid));
	for (const char *p = groups; *p; p++)
		n += *p == ',';
	/* Exactly the user's groups: the primary one may appear once. */
	for (char *save = NULL, *t = strtok_r(groups, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		gid_t g = (gid_t)strtoul(t, NULL, 10);
		if (g != S.job_gid && g != S.grp_gid)
			fail_msg("unexpected supplementary group %u", g);
	}
	assert_true(n <= 1);
	job_close(&j);
}

static void test_caps_nnp_seccomp(void **state)
{
	struct fx *f = *state;
	struct job j;
	static const char *const zero[] = { "CapEff", "CapPrm", "CapBnd", "CapAmb" };
	const char *out = probe_out(&f->h, &j, "status", NULL);
	char v[64];

	for (size_t i = 0; i < 4; i++)
		assert_string_equal(field(out, zero[i], v, sizeof v), "0000000000000000");
	assert_string_equal(field(out, "NoNewPrivs", v, sizeof v), "1");
	assert_string_equal(field(out, "Seccomp", v, sizeof v), "2");
	job_close(&j);
}

static void test_namespaces(void **state)
{
	static const char *const nss[] = { "ns_net", "ns_pid", "ns_mnt", "ns_uts",
					   "ns_ipc", "ns_cgroup" };
	struct fx *f = *state;
	struct job j;
	const char *out = probe_out(&f->h, &j, "ns", NULL);
	char v[128], host[40];

	assert_string_equal(field(out, "ppid", v, sizeof v), "1");
	assert_true(atoi(field(out, "pid", v, sizeof v)) >= 2);
	assert_true(atoi(field(out, "pid", v, sizeof v)) <= 3);
	/* A fresh /proc for the new pid namespace shows only the job. */
	assert_true(atoi(field(out, "nprocs", v, sizeof v)) <= 3);
	snprintf(host, sizeof host, "corral-%.8s", j.id);
	assert_string_equal(field(out, "hostname", v, sizeof v), host);
	assert_string_equal(field(out, "ifaces", v, sizeof v), "lo");
	assert_string_equal(field(out, "lo_up", v, sizeof v), "1");
	for (size_t i = 0; i < ARRAY_SIZE(nss); i++)
		if (!strcmp(field(out, nss[i], v, sizeof v), S.host_ns[i]))
			fail_msg("%s is the host's (%s)", nss[i], v);
	job_close(&j);
}

static void read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd < 0 ? -1 : read(fd, buf, n - 1);

	if (fd >= 0)
		close(fd);
	buf[k > 0 ? k : 0] = '\0';
}

static bool has_line(const char *buf, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void kill_and_reap(struct helper *h, struct job *j)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_helper_req, H_KILL);
	wire_put_str(&o, F_JOB_ID, j->id);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(h->sock, &o, &e), 0);
	wire_out_free(&o);
	if (job_await_exit(h, j, WAIT_MS) != 1) {
		job_dump(j);
		fail_msg("no EXITED after KILL");
	}
}

static void start_sleeper(struct helper *h, struct job *j, const char *cmd,
			  const char *arg)
{
	struct jobreq r;

	jobreq_init(&r, cmd, arg);
	assert_int_equal(job_send(h, &r, j), 0);
	if (job_await_reply(h, j, WAIT_MS) != 1 || j->reply != H_STARTED ||
	    job_await_output(h, j, "ready\n", WAIT_MS) != 1) {
		job_dump(j);
		fail_msg("%s did not start", cmd);
	}
}

static void test_cgroup_outside(void **state)
{
	struct fx *f = *state;
	struct job j;
	char dir[PATH_MAX * 2], p[PATH_MAX * 2 + 32], buf[4096], want[PATH_MAX];
	char pid[16];

	start_sleeper(&f->h, &j, "sleep", NULL);
	job_dir(S.job_uid, j.id, dir, sizeof dir);
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	read_file(p, buf, sizeof buf);
	snprintf(pid, sizeof pid, "%u", j.pid);
	if (!has_line(buf, pid))
		fail_msg("init %u not in %s: %s", j.pid, p, buf);
	/* The STARTED pid is the init: pid 1 of the job's namespace. */
	snprintf(p, sizeof p, "/proc/%u/status", j.pid);
	read_file(p, buf, sizeof buf);
	snprintf(want, sizeof want, "NSpid:\t%u\t1\n", j.pid);
	assert_non_null(strstr(buf, want));
	snprintf(p, sizeof p, "/proc/%u/cgroup", j.pid);
	read_file(p, buf, sizeof buf);
	snprintf(want, sizeof want, "0::%s/jobs/%u/%s\n", S.cg_rel, S.job_uid, j.id);
	assert_non_null(strstr(buf, want));
	kill_and_reap(&f->h, &j);
	assert_false(job_dir_exists(S.job_uid, j.id));
	job_close(&j);
}

static void test_cgroup_inside(void **state)
{
	struct fx *f = *state;
	struct job j;

	/* The job's cgroup namespace is rooted at its own group. */
	assert_string_equal(probe_out(&f->h, &j, "cgroup", NULL), "0::/\n");
	job_close(&j);
}

static void test_seccomp_denies(void **state)
{
	static const char *const calls[] = { "unshare", "keyctl", "add_key", "bpf",
					     "perf_event_open", "userfaultfd",
					     "mount", "ptrace", "modify_ldt",
					     "memfd_secret" };
	struct fx *f = *state;
	struct job j;
	const char *out = probe_out(&f->h, &j, "syscalls", NULL);
	char v[32];

	for (size_t i = 0; i < ARRAY_SIZE(calls); i++)
		if (atoi(field(out, calls[i], v, sizeof v)) != EPERM)
			fail_msg("%s got errno %s, want EPERM", calls[i], v);
	job_close(&j);
}

/* Socket families outside the allowed few are refused as if the kernel
 * did not have them; the ones jobs need still work. */
static void test_seccomp_socket_families(void **state)
{
	static const char *const denied[] = { "vsock", "vsock_high", "alg", "key",
					      "vsock_pair" };
	static const char *const allowed[] = { "inet", "inet6", "netlink",
					       "unix_pair" };
	struct fx *f = *state;
	struct job j;
	const char *out = probe_out(&f->h, &j, "sockets", NULL);
	char v[32];

	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		if (atoi(field(out, denied[i], v, sizeof v)) != EAFNOSUPPORT)
			fail_msg("%s got errno %s, want EAFNOSUPPORT (%d): %s",
				 denied[i], v, EAFNOSUPPORT, out);
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		if (atoi(field(out, allowed[i], v, sizeof v)) != 0)
			fail_msg("%s got errno %s, want success: %s", allowed[i], v, out);
	job_close(&j);
}

static void test_fds(void **state)
{
	struct fx *f = *state;
	struct job j;

	assert_string_equal(probe_out(&f->h, &j, "fds", NULL), "fds=0,1,2\n");
	job_close(&j);
}

static void test_env_exact(void **state)
{
	static const char *const env[] = { "PATH=/usr/bin:/bin", "FOO=bar",
					   "CRLT_SPACES=a b  c", "EMPTY=", NULL };
	struct fx *f = *state;
	struct jobreq r;
	struct job j;
	size_t lines = 0;

	jobreq_init(&r, "env", NULL);
	r.env = env;
	RUN_OK(&f->h, &r, &j);
	for (const char *p = j.outbuf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	for (size_t i = 0; env[i]; i++) {
		char want[128];
		snprintf(want, sizeof want, "\n%s\n", env[i]);
		char have[sizeof j.outbuf + 2];
		snprintf(have, sizeof have, "\n%s", j.outbuf);
		if (!strstr(have, want))
			fail_msg("env lacks %s: %s", env[i], j.outbuf);
	}
	job_close(&j);
}

static void test_cwd(void **state)
{
	struct fx *f = *state;
	struct jobreq r;
	struct job j;

	jobreq_init(&r, "cwd", NULL);
	r.cwd = "/tmp";
	RUN_OK(&f->h, &r, &j);
	assert_string_equal(j.outbuf, "cwd=/tmp\n");
	job_close(&j);
}

static void test_no_tty(void **state)
{
	struct spawn_opts o = { .tty = true };
	struct fx *f = *state;
	struct job j;
	char p[64], stat[1024], v[32];
	int tty_nr = 0;

	assert_int_equal(helper_start(&f->h, NULL, &o), 0);
	/* Control: the helper itself does have a controlling terminal. */
	snprintf(p, sizeof p, "/proc/%d/stat", f->h.pid);
	read_file(p, stat, sizeof stat);
	assert_int_equal(sscanf(strrchr(stat, ')') + 2, "%*c %*d %*d %*d %d", &tty_nr), 1);
	assert_true(tty_nr != 0);
	const char *out = probe_out(&f->h, &j, "tty", NULL);
	assert_string_equal(field(out, "isatty", v, sizeof v), "0,0,0");
	assert_int_equal(atoi(field(out, "devtty_errno", v, sizeof v)), ENXIO);
	job_close(&j);
}

static void test_exit_codes(void **state)
{
	static const char *const codes[] = { "0", "1", "42", "255" };
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		struct jobreq r;
		struct job j;
		jobreq_init(&r, "exit", codes[i]);
		RUN_OK(&f->h, &r, &j);
		assert_true(WIFEXITED(j.wstatus));
		assert_int_equal(WEXITSTATUS(j.wstatus), atoi(codes[i]));
		job_close(&j);
	}
}

/* A job that makes its init its tracer (PTRACE_TRACEME) and stops, or
 * execs while traced, still ends with its own exit code: a ptrace stop
 * is not the end of the command. */
static void test_traceme_stop(void **state)
{
	static const char *const cmds[] = { "traceme", "traceme-exec" };
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		struct jobreq r;
		struct job j;
		jobreq_init(&r, cmds[i], "7");
		RUN_OK(&f->h, &r, &j);
		if (!WIFEXITED(j.wstatus) || WEXITSTATUS(j.wstatus) != 7) {
			job_dump(&j);
			fail_msg("probe %s: wstatus 0x%x, want exit 7", cmds[i], j.wstatus);
		}
		job_close(&j);
	}
}

static void test_signal_status(void **state)
{
	static const int sigs[] = { SIGSEGV, SIGUSR1 };
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		struct jobreq r;
		struct job j;
		char n[8];
		snprintf(n, sizeof n, "%d", sigs[i]);
		jobreq_init(&r, "signal", n);
		RUN_OK(&f->h, &r, &j);
		if (!WIFSIGNALED(j.wstatus) || (int)WTERMSIG(j.wstatus) != sigs[i]) {
			job_dump(&j);
			fail_msg("wstatus 0x%x, want killed by signal %d", j.wstatus, sigs[i]);
		}
		job_close(&j);
	}
}

static void send_signal(struct helper *h, const char *id, uint32_t sig)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_helper_req, H_SIGNAL);
	wire_put_str(&o, F_JOB_ID, id);
	wire_put_u32(&o, F_SIGNAL, sig);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(h->sock, &o, &e), 0);
	wire_out_free(&o);
}

static void test_sigterm_forwarded(void **state)
{
	struct fx *f = *state;
	struct job j;

	start_sleeper(&f->h, &j, "trap-term", "7");
	send_signal(&f->h, j.id, SIGTERM);
	if (job_await_exit(&f->h, &j, WAIT_MS) != 1)
		fail_msg("no EXITED after SIGNAL TERM");
	assert_non_null(strstr(j.outbuf, "term\n"));
	assert_true(WIFEXITED(j.wstatus));
	assert_int_equal(WEXITSTATUS(j.wstatus), 7);
	job_close(&j);
}

static void test_kill_ignores_term(void **state)
{
	struct fx *f = *state;
	struct wire_msg m;
	struct job j;

	start_sleeper(&f->h, &j, "ignore-term", NULL);
	send_signal(&f->h, j.id, SIGTERM);
	/* It ignores TERM, so it is still there a little later. */
	assert_int_equal(helper_next(&f->h, TBIT(H_EXITED), j.id, &j, 300, &m), 0);
	assert_true(job_dir_exists(S.job_uid, j.id));
	kill_and_reap(&f->h, &j);
	assert_false(job_dir_exists(S.job_uid, j.id));
	if (!WIFSIGNALED(j.wstatus) || WTERMSIG(j.wstatus) != SIGKILL)
		fail_msg("wstatus 0x%x, want killed by SIGKILL", j.wstatus);
	job_close(&j);
}

static void test_eof_kills_all(void **state)
{
	struct fx *f = *state;
	struct job a, b;
	int left = -1;

	start_sleeper(&f->h, &a, "sleep", NULL);
	start_sleeper(&f->h, &b, "ignore-term", NULL);
	assert_int_equal(count_job_dirs(), 2);
	close(f->h.sock);
	f->h.sock = -1;
	if (helper_wait_exit(&f->h, 5000) < 0)
		fail_msg("the helper did not exit within 5 s of EOF");
	assert_true(WIFEXITED(f->h.exit_status));
	assert_int_equal(WEXITSTATUS(f->h.exit_status), 0);
	/* Reaping of the last zombies may trail the exit by a moment. */
	for (long end = now_ms() + 1000; now_ms() < end; usleep(20000))
		if ((left = count_user_procs(S.job_uid)) == 0)
			break;
	if (left)
		fail_msg("%d processes of the job user survived EOF", left);
	if ((left = count_job_dirs()))
		fail_msg("%d job cgroups left under %s after the helper exited on EOF",
			 left, S.cg_jobs);
	job_close(&a);
	job_close(&b);
}

static void test_cpu_usage_reported(void **state)
{
	struct fx *f = *state;
	struct job j;

	probe_out(&f->h, &j, "spin", "300");
	if (j.cpu_usec < 150000)
		fail_msg("cpu_usec %llu for 300 ms of spinning",
			 (unsigned long long)j.cpu_usec);
	job_close(&j);
}

static void test_rootfs_allowed(void **state)
{
	struct fx *f = *state;
	struct jobreq r;
	struct job j;
	char root[PATH_MAX + 32];

	snprintf(root, sizeof root, "%s/rootfs-ok", S.rundir);
	jobreq_init(&r, "cwd", NULL);
	r.argv[0] = "/probe";	/* exists only inside the rootfs */
	r.rootfs = root;
	RUN_OK(&f->h, &r, &j);
	assert_string_equal(j.outbuf, "cwd=/\n");
	job_close(&j);
}

static void test_ns_off_allowed(void **state)
{
	struct policy p = { .allow_no_net = true, .allow_no_uts = true };
	struct fx *f = *state;
	struct jobreq r;
	struct job j;
	char v[128];

	assert_int_equal(helper_start(&f->h, &p, NULL), 0);
	jobreq_init(&r, "ns", NULL);
	r.has_ns_off = true;
	r.ns_off = NS_NET | NS_UTS;
	RUN_OK(&f->h, &r, &j);
	assert_string_equal(field(j.outbuf, "ns_net", v, sizeof v), S.host_ns[0]);
	assert_string_equal(field(j.outbuf, "ns_uts", v, sizeof v), S.host_ns[3]);
	assert_string_not_equal(field(j.outbuf, "ns_pid", v, sizeof v), S.host_ns[1]);
	assert_string_not_equal(field(j.outbuf, "ns_mnt", v, sizeof v), S.host_ns[2]);
	job_close(&j);
}

/* ---- start failures --------------------------------------------------- */

static void expect_stage(struct helper *h, struct jobreq *r, const char *stage,
			 int err)
{
	int before = baseline(h);
	struct job j;

	assert_int_equal(job_send(h, r, &j), 0);
	if (job_await_reply(h, &j, WAIT_MS) != 1 || j.reply != H_START_FAILED ||
	    strcmp(j.stage, stage) || (err && j.errnum != err)) {
		job_dump(&j);
		fail_msg("want START_FAILED stage %s errno %d", stage, err);
	}
	assert_int_equal(count_cg_dirs(), before);
	assert_true(pipes_closed(&j, 2000));
	job_close(&j);
	still_serving(h);
}

static void test_exec_missing(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, NULL, NULL);
	r.argv[0] = "/nonexistent/crlt-missing";
	expect_stage(&f->h, &r, "job-exec", ENOENT);
}

static void test_bad_cwd(void **state)
{
	struct fx *f = *state;
	struct jobreq r;
	char priv[PATH_MAX + 16];

	jobreq_init(&r, "cwd", NULL);
	r.cwd = "/nonexistent-crlt-dir";
	expect_stage(&f->h, &r, "job-cwd", ENOENT);
	/* A directory only root may enter: chdir must happen as the user. */
	snprintf(priv, sizeof priv, "%s/private", S.rundir);
	r.cwd = priv;
	expect_stage(&f->h, &r, "job-cwd", EACCES);
}

static void test_memory_controller_absent(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	if (strstr(f->h.controllers, "memory"))
		skip();
	jobreq_init(&r, "exit", "0");
	r.memory_max = 64 * MB;
	expect_refused(&f->h, &r, NAMES("memory"));
}

/* ---- hostile manager: policy ------------------------------------------- */

static void test_uid_root(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, "exit", "0");
	r.uid = 0;
	expect_refused(&f->h, &r, NAMES("uid"));
}

static void test_uid_below_min(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, "exit", "0");
	r.uid = S.sys_uid;
	expect_refused(&f->h, &r, NAMES("uid"));
}

/* nobody (65534) and the dynamic-user ranges lie above max_uid: the
 * suite's policy says 4000000, so one more is refused before any lookup. */
static void test_uid_above_max(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, "exit", "0");
	r.uid = NOUSER_UID + 1;
	expect_refused(&f->h, &r, NAMES("max_uid", "4000001"));
}

static void test_uid_no_passwd(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, "exit", "0");
	r.uid = NOUSER_UID;
	expect_refused(&f->h, &r, NAMES("uid", "user", "4000000"));
}

static void test_job_id_hostile(void **state)
{
	static const char *const ids[] = {
		"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaa/aaa",
		"../aaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
		"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaa/..",
		"AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA",
		"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa ",
		"aaaaaaaaaaaaa-4aaa-8aaa-aaaaaaaaaaaa",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		struct jobreq r;
		jobreq_init(&r, "exit", "0");
		r.job_id = ids[i];
		expect_refused(&f->h, &r, NAMES("job_id", "job id"));
	}
}

static void test_rootfs_not_allowed(void **state)
{
	struct fx *f = *state;
	char bad[PATH_MAX + 32], rel[] = "rootfs-ok";
	const char *roots[] = { bad, "/", rel };
	struct jobreq r;

	snprintf(bad, sizeof bad, "%s/rootfs-bad", S.rundir);
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		jobreq_init(&r, NULL, NULL);
		r.argv[0] = "/probe";
		r.rootfs = roots[i];
		expect_refused(&f->h, &r, NAMES("rootfs"));
	}
}

static void test_rootfs_swapped_for_symlink(void **state)
{
	struct fx *f = *state;
	char link[PATH_MAX + 32], orig[PATH_MAX + 32];
	struct jobreq r;
	struct job j;

	snprintf(link, sizeof link, "%s/rootfs-swap", S.rundir);
	snprintf(orig, sizeof orig, "%s/rootfs-swap.orig", S.rundir);
	jobreq_init(&r, "exit", "0");
	r.argv[0] = "/probe";
	r.rootfs = link;
	RUN_OK(&f->h, &r, &j);	/* control: allowed while it is a directory */
	job_close(&j);
	/* The policy was read already; now the path becomes a symlink to the
	 * host's root. */
	assert_int_equal(rename(link, orig), 0);
	assert_int_equal(symlink("/", link), 0);
	r.argv[0] = S.probe;
	expect_refused(&f->h, &r, NAMES("rootfs", "symlink", "link"));
	restore_swap();
}

static void test_limit_above_policy(void **state)
{
	struct policy p = { .limits = true };
	struct fx *f = *state;
	struct jobreq r;
	struct job j;
	int before = count_cg_dirs();

	assert_int_equal(helper_start(&f->h, &p, NULL), 0);
	jobreq_init(&r, "exit", "0");
	r.pids_max = 5000;	/* [limits] pids_max = 4096 */
	assert_int_equal(job_send(&f->h, &r, &j), 0);
	refused(&f->h, &j, before, NAMES("pids_max"));
	if (strstr(f->h.controllers, "pids") && strstr(f->h.controllers, "memory") &&
	    strstr(f->h.controllers, "cpu")) {
		still_serving(&f->h);
		return;
	}
	/* The bounds become the job's limits, which this host cannot
	 * enforce: a request within them still gets an answer naming the
	 * missing controller, so the helper kept serving. */
	r.pids_max = 100;
	assert_int_equal(job_send(&f->h, &r, &j), 0);
	refused(&f->h, &j, before, NAMES("controller"));
}

static void test_ns_off_not_allowed(void **state)
{
	struct fx *f = *state;
	struct jobreq r;

	jobreq_init(&r, "exit", "0");
	r.has_ns_off = true;
	r.ns_off = NS_NET;
	expect_refused(&f->h, &r, NAMES("net", "ns_off"));
	r.ns_off = NS_PID;
	expect_refused(&f->h, &r, NAMES("pid", "ns_off"));
}

/* --network from a hostile corrald: only a network of the policy, only
 * for its users, only an address of its pool, only with the network
 * namespace; a bridge that is not there fails the start and leaves
 * nothing.  (No veth is made: nothing here touches an interface.) */
static void test_network_refused(void **state)
{
	char extra[512];
	struct policy p = { .allow_no_net = true, .extra = extra };
	struct fx *f = *state;
	struct jobreq r;

	snprintf(extra, sizeof extra,
		 "[network t]\nbridge = crlt-nobridge\nsubnet = 10.77.0.0/24\n"
		 "pool = 10.77.0.10-10.77.0.20\nusers = %s\n"
		 "[network u]\nbridge = crlt-nobridge\nsubnet = 10.78.0.0/24\n"
		 "pool = 10.78.0.10-10.78.0.20\nusers = crlt-nobody\n", S.job);
	static const char *const cases[][2] = {
		{ "nope", "network \"nope\" is not in the policy" },
		{ "T!", "network" },
		{ "t=10.77.0.99", "outside the pool" },
		{ "t=10.78.0.10", "outside the pool" },
		{ "u", "may not use it" },
		{ "t", "crlt-nobridge" },
	};

	assert_int_equal(helper_start(&f->h, &p, NULL), 0);
	jobreq_init(&r, "exit", "0");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		r.network = cases[i][0];
		expect_refused(&f->h, &r, NAMES(cases[i][1]));
	}
	r.has_ns_off = true;
	r.ns_off = NS_NET;
	expect_refused(&f->h, &r, NAMES("network needs the network namespace"));
}

/* Where nft is missing, a network with anti-spoofing refuses the job and
 * says why, never runs it unguarded; one without runs it.  The helper
 * runs in a netns of its own with a bridge (no host interface touched). */
static void test_network_without_nft(void **state)
{
	char extra[512];
	struct policy p = { .extra = extra };
	struct spawn_opts o = { .own_net = true };
	struct fx *f = *state;
	struct jobreq r;
	struct job j;

	snprintf(extra, sizeof extra,
		 "[network t]\nbridge = crlt-br\nsubnet = 10.66.0.0/24\n"
		 "pool = 10.66.0.10-10.66.0.20\nusers = %s\n"
		 "[network o]\nbridge = crlt-br\nsubnet = 10.67.0.0/24\n"
		 "pool = 10.67.0.10-10.67.0.20\nusers = %s\nantispoof = no\n",
		 S.job, S.job);
	assert_int_equal(helper_start(&f->h, &p, &o), 0);
	jobreq_init(&r, "exit", "0");
	r.network = "t";
	expect_refused(&f->h, &r, NAMES("anti-spoofing needs nftables"));
	r.network = "o";
	RUN_OK(&f->h, &r, &j);
	assert_true(WIFEXITED(j.wstatus) && WEXITSTATUS(j.wstatus) == 0);
	job_close(&j);
}

static void test_max_jobs(void **state)
{
	struct policy p = { .max_jobs = 2 };
	struct fx *f = *state;
	struct job a, b, c, d;
	struct jobreq r;
	int before;

	assert_int_equal(helper_start(&f->h, &p, NULL), 0);
	start_sleeper(&f->h, &a, "sleep", NULL);
	start_sleeper(&f->h, &b, "sleep", NULL);
	before = count_cg_dirs();
	jobreq_init(&r, "exit", "0");
	assert_int_equal(job_send(&f->h, &r, &c), 0);
	refused(&f->h, &c, before, NAMES("max_jobs", "too many", "jobs"));
	kill_and_reap(&f->h, &a);
	start_sleeper(&f->h, &d, "sleep", NULL);	/* room again */
	kill_and_reap(&f->h, &b);
	kill_and_reap(&f->h, &d);
	job_close(&a);
	job_close(&b);
	job_close(&d);
}

static void test_unknown_job_signal_kill(void **state)
{
	struct fx *f = *state;
	struct wire_out o;
	struct wire_msg m;
	struct cerr e;
	char id[37];

	make_uuid(id);
	send_signal(&f->h, id, SIGTERM);
	assert_int_equal(helper_next(&f->h, TBIT(H_ERROR), NULL, NULL, WAIT_MS, &m), 1);
	wire_msg_free(&m);
	wire_out_init(&o, &proto_helper_req, H_KILL);
	wire_put_str(&o, F_JOB_ID, id);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(f->h.sock, &o, &e), 0);
	wire_out_free(&o);
	assert_int_equal(helper_next(&f->h, TBIT(H_ERROR), NULL, NULL, WAIT_MS, &m), 1);
	wire_msg_free(&m);
	still_serving(&f->h);
}

/* SIGNAL refuses KILL (its own request), the C library's 32 and 33, and
 * a foreground signal the init does not forward, each with ERROR naming
 * the job; the job runs on, and a signal it may get still reaches it. */
static void test_signal_refused(void **state)
{
	static const struct { uint32_t sig, fg; } bad[] = {
		{ SIGKILL, 0 }, { 32, 0 }, { 33, 0 }, { SIGUSR1, 1 }, { SIGKILL, 1 },
	};
	struct fx *f = *state;
	struct wire_msg m;
	struct job j;

	start_sleeper(&f->h, &j, "trap-term", "7");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct wire_out o;
		struct cerr e;

		wire_out_init(&o, &proto_helper_req, H_SIGNAL);
		wire_put_str(&o, F_JOB_ID, j.id);
		wire_put_u32(&o, F_SIGNAL, bad[i].sig);
		wire_put_u32(&o, F_FOREGROUND, bad[i].fg);
		assert_int_equal(wire_out_finish(&o, &e), 0);
		assert_int_equal(wire_send_packet(f->h.sock, &o, &e), 0);
		wire_out_free(&o);
		if (helper_next(&f->h, TBIT(H_ERROR), j.id, NULL, WAIT_MS, &m) != 1)
			fail_msg("SIGNAL %u foreground %u was not refused", bad[i].sig, bad[i].fg);
		assert_int_equal(wire_u32(&m, F_ERRNO, 0), EINVAL);
		wire_msg_free(&m);
	}
	assert_true(job_dir_exists(S.job_uid, j.id));
	send_signal(&f->h, j.id, SIGTERM);
	if (job_await_exit(&f->h, &j, WAIT_MS) != 1)
		fail_msg("no EXITED after SIGNAL TERM");
	assert_int_equal(WEXITSTATUS(j.wstatus), 7);
	job_close(&j);
}

/* ---- hostile manager: malformed messages ----------------------------- */

enum { SKIP_ID = 1, SKIP_UID = 2, SKIP_ARGV = 4, SKIP_ENV = 8, SKIP_CWD = 16 };

/* A valid START body minus the fields in skip. */
static void put_base(struct wire_out *o, const char *id, unsigned skip)
{
	wire_out_init(o, &proto_helper_req, H_START);
	if (!(skip & SKIP_ID))
		wire_put_str(o, F_JOB_ID, id);
	if (!(skip & SKIP_UID))
		wire_put_u32(o, F_UID, S.job_uid);
	if (!(skip & SKIP_ARGV)) {
		wire_put_str(o, F_ARGV, S.probe);
		wire_put_str(o, F_ARGV, "exit");
	}
	if (!(skip & SKIP_ENV))
		wire_put_str(o, F_ENV, "PATH=/usr/bin:/bin");
	if (!(skip & SKIP_CWD))
		wire_put_str(o, F_CWD, "/");
}

static char *filled(size_t n, char c)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void put_many(struct wire_out *o, uint16_t id, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		wire_put_str(o, id, v);
}

static void put_long(struct wire_out *o, uint16_t id, size_t n, const char *prefix)
{
	char *s = filled(n, 'a');
	memcpy(s, prefix, strlen(prefix));
	wire_put_str(o, id, s);
	free(s);
}

struct bad_case {
	const char *name;
	const char *needle;	/* NULL: any message */
	void (*build)(struct wire_out *o, const char *id);
};

static void b_argv_count(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_ARGV);
	put_many(o, F_ARGV, ARGV_MAX + 1, "x");
}
static void b_argv_len(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	put_long(o, F_ARGV, ARG_LEN_MAX + 1, "");
}
static void b_argc0(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_ARGV);
}
static void b_env_count(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_ENV);
	put_many(o, F_ENV, ENV_MAX + 1, "A=1");
}
static void b_env_len(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_ENV);
	put_long(o, F_ENV, ENV_LEN_MAX + 1, "A=");
}
static void b_cwd_len(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_CWD);
	put_long(o, F_CWD, PATH_LEN_MAX + 1, "/");
}
static void b_rootfs_len(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	put_long(o, F_ROOTFS, PATH_LEN_MAX + 1, "/");
}
static void b_cpuset_len(struct wire_out *o, const char *id)
{
	char *s = filled(CPUSET_LEN_MAX + 1, '0');
	put_base(o, id, 0);
	wire_put_str(o, F_CPUSET_CPUS, s);
	free(s);
}
static void b_io_count(struct wire_out *o, const char *id)
{
	uint8_t v[IO_LIMIT_LEN] = { 8 };
	put_base(o, id, 0);
	for (int i = 0; i < IO_LIMIT_MAX + 1; i++)
		wire_put_bytes(o, F_IO_LIMIT, v, sizeof v);
}
static void b_io_len(struct wire_out *o, const char *id)
{
	uint8_t v[IO_LIMIT_LEN + 1] = { 8 };
	put_base(o, id, 0);
	wire_put_bytes(o, F_IO_LIMIT, v, sizeof v);
}
static void b_ns_off(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	wire_put_u32(o, F_NS_OFF, NS_ALL + 1);
}
static void b_pids(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	wire_put_u64(o, F_PIDS_MAX, 4194304 + 1);
}
static void b_uid_max(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_UID);
	wire_put_u32(o, F_UID, 0xffffffffu);
}
static void b_uid_twice(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	wire_put_u32(o, F_UID, 0);
}
static void b_uid_type(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_UID);
	wire_put_str(o, F_UID, "1000");
}
static void b_id_short(struct wire_out *o, const char *id)
{
	char s[40];
	snprintf(s, sizeof s, "%.35s", id);
	put_base(o, s, 0);
}
static void b_id_long(struct wire_out *o, const char *id)
{
	char s[40];
	snprintf(s, sizeof s, "%sa", id);
	put_base(o, s, 0);
}
static void b_unknown_field(struct wire_out *o, const char *id)
{
	put_base(o, id, 0);
	wire_put_u32(o, 999, 1);
}
static void b_nul_in_str(struct wire_out *o, const char *id)
{
	put_base(o, id, SKIP_CWD);
	wire_put_bytes(o, F_CWD, "/\0tmp", 5);
	o->buf[o->len - 5 - 8 + 2] = WT_STR;	/* the field's type: a STR */
}

static const struct bad_case bad_cases[] = {
	{ "argv count", "argv", b_argv_count },
	{ "argv entry length", "argv", b_argv_len },
	{ "argc 0", "argv", b_argc0 },
	{ "env count", "env", b_env_count },
	{ "env entry length", "env", b_env_len },
	{ "cwd length", "cwd", b_cwd_len },
	{ "rootfs length", "rootfs", b_rootfs_len },
	{ "cpuset length", "cpuset", b_cpuset_len },
	{ "io_limit count", "io_limit", b_io_count },
	{ "io_limit length", "io_limit", b_io_len },
	{ "ns_off bits", "ns_off", b_ns_off },
	{ "pids_max range", "pids", b_pids },
	{ "uid 2^32-1", "uid", b_uid_max },
	{ "uid twice", "uid", b_uid_twice },
	{ "uid as a string", "uid", b_uid_type },
	{ "job id 35 chars", "job", b_id_short },
	{ "job id 37 chars", "job", b_id_long },
	{ "unknown field", NULL, b_unknown_field },
	{ "NUL in a string", "cwd", b_nul_in_str },
};

static void send_bad(struct helper *h, const struct bad_case *c)
{
	int before = baseline(h);
	struct wire_out o;
	struct cerr e;
	struct job j;
	char id[37];

	make_uuid(id);
	c->build(&o, id);
	/* The library must refuse to build it: proof the case is invalid. */
	if (wire_out_finish(&o, &e) == 0)
		fail_msg("case '%s' is a valid message", c->name);
	out_seal(&o);
	assert_int_equal(job_send_raw(h, &o, id, &j), 0);
	wire_out_free(&o);
	fprintf(stderr, "  [%s]\n", c->name);
	refused(h, &j, before, c->needle ? NAMES(c->needle) : NULL);
	still_serving(h);
}

static void test_fields_past_bounds(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		send_bad(&f->h, &bad_cases[i]);
}

/* Frame-level damage: the reply is an ERROR (nothing to name but the
 * problem), and the helper keeps serving. */
static void send_frame(struct helper *h, const uint8_t *buf, size_t len,
		       bool with_fds, const char *what)
{
	int before = baseline(h);
	struct job j;
	char id[37];

	make_uuid(id);
	if (with_fds) {
		struct wire_out o = { .buf = (uint8_t *)(uintptr_t)buf, .len = len };
		assert_int_equal(job_send_raw(h, &o, id, &j), 0);
	} else {
		memset(&j, 0, sizeof j);
		j.out = j.err = -1;
		assert_int_equal(raw_send(h->sock, buf, len, NULL, 0), 0);
	}
	fprintf(stderr, "  [%s]\n", what);
	refused(h, &j, before, NULL);
	still_serving(h);
}

static void test_bad_frames(void **state)
{
	struct fx *f = *state;
	struct wire_out o;
	struct cerr e;
	char id[37];
	uint8_t *big;

	make_uuid(id);
	put_base(&o, id, 0);
	wire_put_fd(&o, 0);
	wire_put_fd(&o, 1);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	/* The header claims more body than the datagram holds. */
	o.buf[8] = (uint8_t)(o.buf[8] + 16);
	send_frame(&f->h, o.buf, o.len, true, "length beyond the datagram");
	o.buf[8] = (uint8_t)(o.buf[8] - 16);
	/* The last field's length runs past the body. */
	/* cwd "/" is the last field: its u32 length sits just before the
	 * one value byte. */
	o.buf[o.len - 1 - 4] = 0x7f;
	send_frame(&f->h, o.buf, o.len, true, "field length beyond the body");
	o.buf[o.len - 1 - 4] = 1;
	o.buf[0] ^= 0xff;
	send_frame(&f->h, o.buf, o.len, true, "bad magic");
	o.buf[0] ^= 0xff;
	o.buf[4] = 9;
	send_frame(&f->h, o.buf, o.len, true, "bad version");
	o.buf[4] = WIRE_VERSION;
	o.buf[6] = 99;
	send_frame(&f->h, o.buf, o.len, false, "unknown message type");
	o.buf[6] = H_EXITED;
	send_frame(&f->h, o.buf, o.len, false, "a helper-to-manager type");
	o.buf[6] = H_START;
	send_frame(&f->h, o.buf, 7, false, "shorter than a header");
	wire_out_free(&o);
	big = calloc(1, WIRE_HDR_LEN + WIRE_MAX_BODY + 64);
	assert_non_null(big);
	memcpy(big, (const uint8_t[]){ 0x43, 0x52, 0x4c, 0x01, 1, 0, 1, 0 }, 8);
	send_frame(&f->h, big, WIRE_HDR_LEN + WIRE_MAX_BODY + 64, true,
		   "datagram over the body cap");
	free(big);
}

/* The helper's fd count once it stops changing: it may still be closing
 * the last job's descriptors just after EXITED went out. */
static int settled_fds(pid_t pid)
{
	int last = count_fds_of(pid), n;

	for (int i = 0; i < 50; i++) {
		usleep(20000);
		n = count_fds_of(pid);
		if (n == last)
			return n;
		last = n;
	}
	return last;
}

static void send_with_fds(struct helper *h, int nfds, const char *what)
{
	int before = baseline(h), fds[253];
	int helper_fds = settled_fds(h->pid);
	struct wire_out o;
	struct job j;
	char id[37];

	make_uuid(id);
	memset(&j, 0, sizeof j);
	j.out = j.err = -1;
	snprintf(j.id, sizeof j.id, "%s", id);
	for (int i = 0; i < nfds; i++)
		assert_true((fds[i] = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0);
	put_base(&o, id, 0);
	/* A valid body; only the fd count is wrong (finish would refuse). */
	out_seal(&o);
	fprintf(stderr, "  [%s]\n", what);
	assert_int_equal(raw_send(h->sock, o.buf, o.len, fds, nfds), 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	wire_out_free(&o);
	refused(h, &j, before, NULL);
	assert_int_equal(settled_fds(h->pid), helper_fds);
	still_serving(h);
}

static void test_fd_counts(void **state)
{
	struct fx *f = *state;
	int fds[1000], rc;
	char id[37];
	struct wire_out o;

	/* 1000 fds on one message: the kernel refuses it (SCM_MAX_FD). */
	for (int i = 0; i < 1000; i++)
		fds[i] = 0;
	make_uuid(id);
	put_base(&o, id, 0);
	out_seal(&o);
	rc = raw_send(f->h.sock, o.buf, o.len, fds, 1000);
	wire_out_free(&o);
	if (rc >= 0)
		fail_msg("the kernel took 1000 fds on one message");
	fprintf(stderr, "  [1000 fds: sendmsg failed: %s]\n", strerror(-rc));
	send_with_fds(&f->h, 253, "253 fds");
	send_with_fds(&f->h, 3, "3 fds");
	send_with_fds(&f->h, 1, "1 fd");
	send_with_fds(&f->h, 0, "no fds");
}

/* ---- -i and -t: the job's stdio (docs/tty.md) ------------------------ */

/* START with the given extra flag (0: none) and fds: stdout's and
 * stderr's pipes, then stdin's end as asked ("r", "w") or /dev/null
 * ("n") in place of stdout. */
static void stdio_refused(struct helper *h, uint16_t flag, const char *io,
			  const char *needle)
{
	int before = baseline(h), o[2], e[2], in[2], fds[3], n = 2;
	struct wire_out w;
	struct job j;
	char id[37];

	make_uuid(id);
	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "%s", id);
	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe2(e, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	j.out = o[0], j.err = e[0];
	fds[0] = strchr(io, 'n') ? open("/dev/null", O_WRONLY | O_CLOEXEC) : o[1];
	fds[1] = e[1];
	if (strchr(io, 'r'))
		fds[n++] = in[0];
	if (strchr(io, 'w'))
		fds[n++] = in[1];
	put_base(&w, id, 0);
	if (flag)
		wire_put_u64(&w, flag, 1);
	out_seal(&w);
	fprintf(stderr, "  [%s]\n", needle);
	assert_int_equal(raw_send(h->sock, w.buf, w.len, fds, n), 0);
	wire_out_free(&w);
	if (fds[0] != o[1])
		close(fds[0]);
	close(o[1]);
	close(e[1]);
	close(in[0]);
	close(in[1]);
	refused(h, &j, before, NAMES(needle));
	still_serving(h);
}

static void test_stdio_fds_checked(void **state)
{
	struct fx *f = *state;

	stdio_refused(&f->h, F_INTERACTIVE, "w", "stdin fd is not a pipe's read end");
	stdio_refused(&f->h, F_INTERACTIVE, "", "START carries 2 fds; its options need 3");
	stdio_refused(&f->h, 0, "r", "START carries 3 fds; its options need 2");
	stdio_refused(&f->h, 0, "n", "stdout fd is not a pipe's write end");
	stdio_refused(&f->h, F_TTY, "", "START carries 2 fds; its options need 0");
}

/* Read a -t job's terminal until it hangs up (EIO) or the wait ends. */
static size_t read_master(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, WAIT_MS) <= 0)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* -t: STARTED brings a pty master; the job's terminal is a pts of a devpts
 * of its own (nothing but its own pty and ptmx in it), owned by the job's
 * user, and the job's controlling terminal. */
static void test_tty(void **state)
{
	struct fx *f = *state;
	char id[37], buf[4096], want[64];
	struct wire_out o;
	struct wire_msg m;
	struct jobreq r;
	struct job j;
	int fd = -1;

	make_uuid(id);
	memset(&r, 0, sizeof r);
	r.uid = S.job_uid;
	r.cwd = "/";
	r.argv[0] = "/bin/sh";
	r.argv[1] = "-c";
	r.argv[2] = "tty; stat -c owner=%u $(tty); ls /dev/pts | tr '\\n' ' '; "
		    "echo; ps -o tty= -p $$ | sed s/^/ctty=/";
	assert_int_equal(job_build(&r, id, &o), 0);
	wire_put_u64(&o, F_TTY, 1);
	out_seal(&o);
	assert_int_equal(raw_send(f->h.sock, o.buf, o.len, NULL, 0), 0);
	wire_out_free(&o);
	assert_int_equal(helper_next(&f->h, TBIT(H_STARTED) | TBIT(H_START_FAILED) |
				     TBIT(H_ERROR), id, NULL, WAIT_MS, &m), 1);
	if (m.type == H_STARTED)
		fd = wire_take_fd(&m, 0);
	else
		fail_msg("-t job not started: %s", wire_str(&m, F_MESSAGE));
	wire_msg_free(&m);
	assert_true(fd >= 0);
	read_master(fd, buf, sizeof buf);
	close(fd);
	fprintf(stderr, "  [terminal: %s]\n", buf);
	snprintf(want, sizeof want, "owner=%u", (unsigned)S.job_uid);
	assert_non_null(strstr(buf, "/dev/pts/0"));
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "0 ptmx \r\n"));
	assert_non_null(strstr(buf, "ctty=pts/0"));
	memset(&j, 0, sizeof j);
	j.out = j.err = -1;
	snprintf(j.id, sizeof j.id, "%s", id);
	assert_int_equal(job_await_exit(&f->h, &j, WAIT_MS), 1);
	assert_int_equal(j.wstatus, 0);
}

/* ---- how the helper itself may be started ----------------------------- */

/* The helper must exit non-zero within 2 s without a READY. */
static void refuses_to_start(struct helper *h, const struct spawn_opts *o,
			     const char *what)
{
	struct wire_msg m;
	int rc;

	assert_int_equal(helper_spawn(h, o), 0);
	if (h->exec_errno)
		fail_msg("%s: execve failed (%s), the test proves nothing", what,
			 strerror(h->exec_errno));
	rc = helper_next(h, TBIT(H_READY), NULL, NULL, 2000, &m);
	if (rc == 1) {
		wire_msg_free(&m);
		fail_msg("%s: the helper sent READY", what);
	}
	if (helper_wait_exit(h, 2000) < 0)
		fail_msg("%s: the helper still runs after 2 s", what);
	if (WIFEXITED(h->exit_status) && WEXITSTATUS(h->exit_status) == 0)
		fail_msg("%s: the helper exited 0", what);
	helper_stop(h);
}

static void test_not_manager(void **state)
{
	struct spawn_opts other = { .uid = S.job_uid, .gid = S.job_gid,
				    .extra_gid = S.mgr_gid };
	struct spawn_opts root = { .as_root = true };
	struct fx *f = *state;

	refuses_to_start(&f->h, &other, "started by another user");
	refuses_to_start(&f->h, &root, "started by root");
}

/* A compromised corrald starting a second helper on the same base would
 * get max_jobs again and, through its start-up sweep, kill the first
 * one's jobs.  The second refuses to start, and the first serves on. */
static void test_one_helper_per_base(void **state)
{
	struct fx *f = *state;
	struct helper second = { 0 };
	struct job j;

	struct wire_msg m;

	start_sleeper(&f->h, &j, "sleep", NULL);
	/* it waits up to 5 s for the base (a dying helper's clean-up) */
	assert_int_equal(helper_spawn(&second, NULL), 0);
	if (helper_next(&second, TBIT(H_READY), NULL, NULL, 7000, &m) == 1) {
		wire_msg_free(&m);
		fail_msg("a second helper on the same base sent READY");
	}
	if (helper_wait_exit(&second, 3000) < 0 ||
	    (WIFEXITED(second.exit_status) && WEXITSTATUS(second.exit_status) == 0))
		fail_msg("a second helper on the same base did not exit non-zero");
	helper_stop(&second);
	still_serving(&f->h);
	assert_true(job_dir_exists(S.job_uid, j.id));
	kill_and_reap(&f->h, &j);
	job_close(&j);
	/* once the first is gone, a new one starts */
	helper_stop(&f->h);
	assert_int_equal(helper_start(&second, NULL, NULL), 0);
	helper_stop(&second);
}

static void test_bad_policy(void **state)
{
	const struct policy bad[] = {
		{ .mode = 0664 }, { .mode = 0646 }, { .mgr_owned = true },
		{ .dir_group_writable = true },
		{ .extra = "[helper]\nno_such_key = 1\n" },
	};
	static const char *const what[] = {
		"group-writable policy", "world-writable policy",
		"policy owned by the manager", "group-writable policy directory",
		"unknown key",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(policy_write(&bad[i]), 0);
		refuses_to_start(&f->h, NULL, what[i]);
	}
	/* Control: the same helper starts with the good policy. */
	assert_int_equal(helper_start(&f->h, NULL, NULL), 0);
}

static bool marker_exists(void)
{
	char p[PATH_MAX + 32];

	snprintf(p, sizeof p, "%s/preload-marker", S.tmpdir);
	return access(p, F_OK) == 0;
}

/* The suite's preload library works at all: on an ordinary program. */
static void preload_control(void)
{
	char pre[PATH_MAX + 16], mark[PATH_MAX + 64], p[PATH_MAX + 32];
	const char *argv[] = { "/usr/bin/env", pre, mark, "/bin/true", NULL };

	snprintf(pre, sizeof pre, "LD_PRELOAD=%s", S.preload);
	snprintf(mark, sizeof mark, "CRLT_PRELOAD_MARKER=%s/preload-marker", S.tmpdir);
	assert_int_equal(run_cmd(argv), 0);
	assert_true(marker_exists());
	snprintf(p, sizeof p, "%s/preload-marker", S.tmpdir);
	unlink(p);
}

static void no_inherited_fds(pid_t pid)
{
	char want[PATH_MAX + 32];

	snprintf(want, sizeof want, "%s/inherited", S.tmpdir);
	for (int fd = 0; fd < 64; fd++) {
		char p[64], t[PATH_MAX];
		ssize_t n;
		snprintf(p, sizeof p, "/proc/%d/fd/%d", pid, fd);
		n = readlink(p, t, sizeof t - 1);
		if (n < 0)
			continue;
		t[n] = '\0';
		if (!strcmp(t, want))
			fail_msg("the helper kept inherited fd %d", fd);
	}
}

/* Started with hostile fds and environment, the helper still works and
 * passes none of it on.  The three variants tell which part breaks it. */
static void hostile_start(struct fx *f, const struct spawn_opts *o,
			  const char *what)
{
	static const char *const bad[] = { "LD_PRELOAD", "LD_LIBRARY_PATH",
					   "GCONV_PATH", "GLIBC_TUNABLES",
					   "MALLOC_CHECK_", "CRLT_HOSTILE", "IFS" };
	struct job j;

	if (helper_start(&f->h, NULL, o) < 0)
		fail_msg("%s: the helper did not start (exit status 0x%x)", what,
			 f->h.exit_status);
	assert_false(marker_exists());
	no_inherited_fds(f->h.pid);
	assert_string_equal(probe_out(&f->h, &j, "fds", NULL), "fds=0,1,2\n");
	job_close(&j);
	const char *env = probe_out(&f->h, &j, "env", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char pat[64];
		snprintf(pat, sizeof pat, "%s=", bad[i]);
		if (strstr(env, pat))
			fail_msg("the job's environment has %s: %s", bad[i], env);
	}
	assert_string_equal(env, "PATH=/usr/bin:/bin\nCRLT_JOB=1\n");
	job_close(&j);
	assert_false(marker_exists());
	helper_stop(&f->h);
}

static void test_hostile_start_fds(void **state)
{
	struct spawn_opts o = { .extra_fds = 20 };

	hostile_start(*state, &o, "20 inherited fds");
}

static void test_hostile_start_env(void **state)
{
	struct spawn_opts o = { .hostile_env = true };

	preload_control();
	hostile_start(*state, &o, "hostile environment");
}

static void test_hostile_start_both(void **state)
{
	struct spawn_opts o = { .extra_fds = 20, .hostile_env = true };

	hostile_start(*state, &o, "inherited fds and hostile environment");
}

static void test_sweep_at_start(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX * 2], p[PATH_MAX * 2 + 32], id[37], num[16];
	int st, fd;
	pid_t child;

	make_uuid(id);
	snprintf(p, sizeof p, "%s/%u", S.cg_jobs, S.job_uid);
	mkdir(S.cg_jobs, 0755);
	mkdir(p, 0755);
	job_dir(S.job_uid, id, dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	snprintf(num, sizeof num, "%d", child);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, num, strlen(num)), (ssize_t)strlen(num));
	close(fd);
	assert_int_equal(helper_start(&f->h, NULL, NULL), 0);
	assert_false(job_dir_exists(S.job_uid, id));
	for (long end = now_ms() + 2000; waitpid(child, &st, WNOHANG) == 0;) {
		if (now_ms() > end) {
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			fail_msg("the leftover job's process survived the sweep");
		}
		usleep(10000);
	}
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Write val to path (val NULL: make the directory path) as uid/gid, in a
 * child; 0 or the errno. */
static int write_as(uid_t uid, gid_t gid, const char *path, const char *val)
{
	int st, pfd[2];
	pid_t child;

	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd, err = 0;
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(100);
		if (!val) {
			if (mkdir(path, 0755) < 0)
				err = errno;
		} else if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 ||
			   write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
			err = errno;
		}
		if (write(pfd[1], &err, sizeof err) != sizeof err)
			_exit(101);
		_exit(0);
	}
	close(pfd[1]);
	int err = -1;
	assert_int_equal(read(pfd[0], &err, sizeof err), (ssize_t)sizeof err);
	close(pfd[0]);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return err;
}

/* Under Delegate=yes the base group belongs to the manager user, and
 * cgroup v2 lets the writer of the common ancestor's cgroup.procs move a
 * process between any two of its descendants.  A compromised corrald that
 * made a group of its own (before the helper started, say) must still not
 * be able to move a job's process into it, out of the job's limits. */
static void test_manager_cannot_migrate(void **state)
{
	struct fx *f = *state;
	static const char *const files[] = { "", "/cgroup.procs", "/cgroup.threads",
					     "/cgroup.subtree_control" };
	char evil[PATH_MAX + 16], p[PATH_MAX + 64], pid[16], buf[4096];
	struct job j;
	int err;

	/* systemd's delegation: the base and its files are the manager's */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof p, "%s%s", S.cg_base, files[i]);
		assert_int_equal(chown(p, S.mgr_uid, S.mgr_gid), 0);
	}
	snprintf(evil, sizeof evil, "%s/evil", S.cg_base);
	assert_int_equal(mkdir(evil, 0755), 0);
	snprintf(p, sizeof p, "%s/cgroup.procs", evil);
	assert_int_equal(chown(evil, S.mgr_uid, S.mgr_gid), 0);
	assert_int_equal(chown(p, S.mgr_uid, S.mgr_gid), 0);
	assert_int_equal(helper_start(&f->h, NULL, NULL), 0);
	start_sleeper(&f->h, &j, "sleep", NULL);
	snprintf(pid, sizeof pid, "%u", j.pid);
	err = write_as(S.mgr_uid, S.mgr_gid, p, pid);
	if (err != EACCES && err != EPERM)
		fail_msg("the manager moved job process %s into its own group (%s)",
			 pid, err ? strerror(err) : "write succeeded");
	snprintf(p, sizeof p, "/proc/%u/cgroup", j.pid);
	read_file(p, buf, sizeof buf);
	assert_non_null(strstr(buf, j.id));
	/* nor make a new group beside the jobs */
	snprintf(p, sizeof p, "%s/evil2", S.cg_base);
	err = write_as(S.mgr_uid, S.mgr_gid, p, NULL);
	if (!err)
		rmdir(p);
	assert_int_equal(err, EACCES);
	kill_and_reap(&f->h, &j);
	job_close(&j);
	rmdir(evil);
}

/* 0:: line of /proc/PID/cgroup, or "" */
static void cgroup_of(pid_t pid, char *out, size_t n)
{
	char p[64], buf[4096], *l;

	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)pid);
	read_file(p, buf, sizeof buf);
	l = strstr(buf, "0::");
	snprintf(out, n, "%.*s", l ? (int)strcspn(l + 3, "\n") : 0, l ? l + 3 : "");
}

/* A base of its own for one test (the suite's has controllers enabled,
 * so no process could be put in it), and back to the suite's. */
static struct {
	char rel[sizeof S.cg_rel], base[PATH_MAX], jobs[PATH_MAX];
	bool swapped;
} other_base;

static void use_other_base(const char *suffix)
{
	memcpy(other_base.rel, S.cg_rel, sizeof other_base.rel);
	memcpy(other_base.base, S.cg_base, sizeof other_base.base);
	memcpy(other_base.jobs, S.cg_jobs, sizeof other_base.jobs);
	other_base.swapped = true;
	snprintf(S.cg_rel, sizeof S.cg_rel, "%s-%s", other_base.rel, suffix);
	pathf(S.cg_base, sizeof S.cg_base, "%s%s", S.cg_mount, S.cg_rel);
	pathf(S.cg_jobs, sizeof S.cg_jobs, "%s/jobs", S.cg_base);
	assert_int_equal(mkdir(S.cg_base, 0755), 0);
	assert_int_equal(policy_write(NULL), 0);
}

static int fx_teardown_other_base(void **state)
{
	struct fx *f = *state;

	if (f->h.pid > 0)
		helper_stop(&f->h);
	if (other_base.swapped) {
		cg_remove_tree(S.cg_base);
		memcpy(S.cg_rel, other_base.rel, sizeof S.cg_rel);
		memcpy(S.cg_base, other_base.base, sizeof S.cg_base);
		memcpy(S.cg_jobs, other_base.jobs, sizeof S.cg_jobs);
		other_base.swapped = false;
	}
	return fx_teardown(state);
}

/* With a fixed cgroup_base (the package's: corral-jobs.service's group),
 * corrald starts the helper in corrald's own group; the helper must move
 * itself into <base>/daemon, with whatever it finds in the base (the
 * jobs unit's placeholder), so that it outlives corrald's unit, and must
 * leave the manager (its parent) where it is.  A daemon/ group the
 * manager made beforehand is taken for root, so the manager cannot move
 * the helper out of it. */
static void test_helper_joins_base(void **state)
{
	struct fx *f = *state;
	char daemon[PATH_MAX + 16], p[PATH_MAX + 64], num[16], want[PATH_MAX];
	char mine[PATH_MAX], now[PATH_MAX], evil[PATH_MAX + 16];
	struct stat st;
	struct job j;
	pid_t holder;
	int fd, err;

	use_other_base("join");
	snprintf(daemon, sizeof daemon, "%s/daemon", S.cg_base);
	assert_int_equal(mkdir(daemon, 0755), 0);
	snprintf(p, sizeof p, "%s/cgroup.procs", daemon);
	assert_int_equal(chown(daemon, S.mgr_uid, S.mgr_gid), 0);
	assert_int_equal(chown(p, S.mgr_uid, S.mgr_gid), 0);
	/* the jobs unit's placeholder, in the base itself */
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		for (;;)
			pause();
	}
	snprintf(p, sizeof p, "%s/cgroup.procs", S.cg_base);
	snprintf(num, sizeof num, "%d", holder);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	err = fd < 0 || write(fd, num, strlen(num)) != (ssize_t)strlen(num);
	if (fd >= 0)
		close(fd);
	if (err) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
		fail_msg("cannot put a process in %s", S.cg_base);
	}
	cgroup_of(getpid(), mine, sizeof mine);

	err = helper_start(&f->h, NULL, NULL);
	snprintf(want, sizeof want, "%s/daemon", S.cg_rel);
	cgroup_of(holder, now, sizeof now);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	assert_int_equal(err, 0);
	if (strcmp(now, want))
		fail_msg("the process found in the base is in %s, not %s", now, want);
	cgroup_of(f->h.pid, now, sizeof now);
	if (strcmp(now, want))
		fail_msg("the helper runs in %s, not in its base's %s", now, want);
	cgroup_of(getpid(), now, sizeof now);
	if (strcmp(now, mine))
		fail_msg("the manager was moved from %s to %s", mine, now);
	assert_int_equal(stat(daemon, &st), 0);
	assert_true(st.st_uid == 0 && (st.st_mode & 07777) == 0755);
	/* the manager cannot take the helper out of daemon/ */
	snprintf(evil, sizeof evil, "%s/evil", S.cg_base);
	assert_int_equal(mkdir(evil, 0755), 0);
	snprintf(p, sizeof p, "%s/cgroup.procs", evil);
	assert_int_equal(chown(evil, S.mgr_uid, S.mgr_gid), 0);
	assert_int_equal(chown(p, S.mgr_uid, S.mgr_gid), 0);
	snprintf(num, sizeof num, "%d", f->h.pid);
	err = write_as(S.mgr_uid, S.mgr_gid, p, num);
	rmdir(evil);
	if (err != EACCES && err != EPERM)
		fail_msg("the manager moved the helper out of daemon/ (%s)",
			 err ? strerror(err) : "write succeeded");
	/* and jobs still go to jobs/<uid>/<id> */
	start_sleeper(&f->h, &j, "sleep", NULL);
	snprintf(want, sizeof want, "%s/jobs/%u/%s", S.cg_rel, S.job_uid, j.id);
	cgroup_of(j.pid, now, sizeof now);
	assert_string_equal(now, want);
	kill_and_reap(&f->h, &j);
	job_close(&j);
}

/* ---- latency ------------------------------------------------------------ */

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void test_start_latency(void **state)
{
	struct fx *f = *state;
	long us[50];

	for (int i = 0; i < 50; i++) {
		struct timespec a, b;
		struct jobreq r;
		struct job j;
		jobreq_init(&r, NULL, NULL);
		r.argv[0] = "/bin/true";
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(job_send(&f->h, &r, &j), 0);
		if (job_await_reply(&f->h, &j, WAIT_MS) != 1 || j.reply != H_STARTED) {
			job_dump(&j);
			fail_msg("run %d did not start", i);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
		assert_int_equal(job_await_exit(&f->h, &j, WAIT_MS), 1);
		assert_true(WIFEXITED(j.wstatus) && WEXITSTATUS(j.wstatus) == 0);
		job_close(&j);
	}
	qsort(us, 50, sizeof us[0], cmp_long);
	printf("helper start latency: median %.1f ms (n=50)\n",
	       (us[24] + us[25]) / 2000.0);
}

/* ---- main --------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	return suite_setup();
}

static int group_teardown(void **state)
{
	(void)state;
	suite_cleanup();
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	exit(130);	/* runs the atexit cleanup */
}

/* ---- re-exec (a reload) ----------------------------------------------- */

static uint32_t hello(struct helper *h)
{
	struct wire_out o;
	struct wire_msg m;
	struct cerr e;
	uint32_t v;

	wire_out_init(&o, &proto_helper_req, H_HELLO);
	wire_put_u32(&o, F_R_LINK_VERSION, HELPER_LINK_VERSION);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(h->sock, &o, &e), 0);
	wire_out_free(&o);
	assert_int_equal(helper_next(h, TBIT(H_VERSION), NULL, NULL, WAIT_MS, &m), 1);
	v = wire_u32(&m, F_R_LINK_VERSION, 0);
	wire_msg_free(&m);
	return v;
}

static void send_reexec(struct helper *h)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_helper_req, H_REEXEC);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(h->sock, &o, &e), 0);
	wire_out_free(&o);
}

/* A running job outlives REEXEC: the same process sends READY again, and
 * the job is still its own (a signal reaches it, its end is reported,
 * its output kept coming). */
static void test_reexec_keeps_jobs(void **state)
{
	struct fx *f = *state;
	struct job j;

	assert_int_equal(hello(&f->h), HELPER_LINK_VERSION);
	start_sleeper(&f->h, &j, "trap-term", "7");
	send_reexec(&f->h);
	f->h.ready_pid = 0;
	if (helper_wait_ready(&f->h, WAIT_MS) < 0)
		fail_msg("no READY after REEXEC");
	assert_int_equal(f->h.ready_pid, (uint32_t)f->h.pid);
	send_signal(&f->h, j.id, SIGTERM);
	if (job_await_exit(&f->h, &j, WAIT_MS) != 1)
		fail_msg("no EXITED for the kept job");
	assert_non_null(strstr(j.outbuf, "term\n"));
	assert_true(WIFEXITED(j.wstatus));
	assert_int_equal(WEXITSTATUS(j.wstatus), 7);
	job_close(&j);
	assert_int_equal(count_job_dirs(), 0);
	still_serving(&f->h);
}

/* A policy the next image would refuse keeps this one: ERROR, and it
 * serves on. */
static void test_reexec_bad_policy(void **state)
{
	const struct policy bad = { .extra = "[helper]\nno_such_key = 1\n" };
	struct fx *f = *state;
	struct wire_msg m;

	assert_int_equal(policy_write(&bad), 0);
	send_reexec(&f->h);
	assert_int_equal(helper_next(&f->h, TBIT(H_ERROR), NULL, NULL, WAIT_MS, &m), 1);
	assert_non_null(strstr(wire_str(&m, F_MESSAGE), "re-exec refused"));
	wire_msg_free(&m);
	policy_restore();
	still_serving(&f->h);
}

/* A compromised corrald starts the helper as if re-exec'd, with a state
 * it made naming a process of its own: refused (the state is not a
 * sealed root-owned memfd), and that process is left alone. */
static void test_reexec_forged_state(void **state)
{
	struct fx *f = *state;
	struct spawn_opts o = { 0 };
	struct wire_out w;
	struct cerr e;
	char id[37];
	pid_t victim = fork();

	if (victim == 0) {
		/* Gone with the suite even if an assertion skips the kill. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close_range(0, ~0U, 0);
		pause();
		_exit(0);
	}
	assert_true(victim > 0);
	make_uuid(id);
	o.resume_fd = memfd_create("forged", MFD_ALLOW_SEALING);
	assert_true(o.resume_fd > 0);
	wire_out_init(&w, &proto_resume, R_HMGR);
	wire_put_u32(&w, F_R_VERSION, RESUME_VERSION);
	wire_put_str(&w, F_R_PATH, S.helper);
	assert_int_equal(wire_write_file(o.resume_fd, &w, &e), 0);
	wire_out_init(&w, &proto_resume, R_HJOB);
	wire_put_str(&w, F_JOB_ID, id);
	wire_put_u32(&w, F_UID, S.job_uid);
	wire_put_u32(&w, F_PID, (uint32_t)victim);
	wire_put_u32(&w, F_R_FLAGS, RF_STARTED);
	assert_int_equal(wire_write_file(o.resume_fd, &w, &e), 0);
	/* Sealed as the helper would: only the owner (the manager) differs. */
	assert_int_equal(fcntl(o.resume_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_WRITE | F_SEAL_SEAL), 0);
	assert_int_equal(fchown(o.resume_fd, S.mgr_uid, S.mgr_gid), 0);
	assert_int_equal(policy_write(NULL), 0);
	refuses_to_start(&f->h, &o, "a forged resume state");
	close(o.resume_fd);
	assert_int_equal(kill(victim, 0), 0);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
}

/* JOBS (a restarted corrald's re-sync): one HELD per job the helper
 * holds, with its pid and what it knows (started; exited), then
 * HELD_END with the helper's pid; asking changes nothing (the job runs
 * on and its end comes as before).  A JOBS with a field the table does
 * not give it is refused, and the helper serves on. */
/* Send JOBS; the first HELD of the answer is about j. */
static void jobs_first_held(struct fx *f, struct job *j, struct wire_msg *m)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_helper_req, H_JOBS);
	assert_int_equal(wire_out_finish(&o, &e), 0);
	assert_int_equal(wire_send_packet(f->h.sock, &o, &e), 0);
	wire_out_free(&o);
	assert_int_equal(helper_next(&f->h, TBIT(H_HELD), NULL, j, WAIT_MS, m), 1);
	assert_string_equal(wire_str(m, F_JOB_ID), j->id);
}

static void test_jobs_lists_held(void **state)
{
	struct fx *f = *state;
	struct wire_out o;
	struct wire_msg m;
	struct cerr e;
	struct job j;

	assert_int_equal(hello(&f->h), HELPER_LINK_VERSION);
	start_sleeper(&f->h, &j, "trap-term", "5");
	jobs_first_held(f, &j, &m);
	assert_int_equal(wire_u32(&m, F_PID, 0), j.pid);
	assert_int_equal(wire_u32(&m, F_R_FLAGS, 0), RF_STARTED);
	wire_msg_free(&m);
	assert_int_equal(helper_next(&f->h, TBIT(H_HELD_END), NULL, &j, WAIT_MS, &m), 1);
	assert_int_equal(wire_u32(&m, F_PID, 0), (uint32_t)f->h.pid);
	wire_msg_free(&m);
	/* A field JOBS has none of: refused whole. */
	wire_out_init(&o, &proto_helper_req, H_JOBS);
	wire_put_str(&o, F_JOB_ID, j.id);
	out_seal(&o);
	assert_int_equal(wire_send_packet(f->h.sock, &o, &e), 0);
	wire_out_free(&o);
	assert_int_equal(helper_next(&f->h, TBIT(H_ERROR), NULL, &j, WAIT_MS, &m), 1);
	wire_msg_free(&m);
	send_signal(&f->h, j.id, SIGTERM);
	if (job_await_exit(&f->h, &j, WAIT_MS) != 1)
		fail_msg("no EXITED after JOBS");
	assert_int_equal(WEXITSTATUS(j.wstatus), 5);
	/* Its end, told already, is told again (RF_ENDED): a corrald that
	 * died after reading the EXITED learns it from this. */
	jobs_first_held(f, &j, &m);
	assert_int_equal(wire_u32(&m, F_R_FLAGS, 0), RF_STARTED | RF_EXITED | RF_ENDED);
	assert_int_equal(WEXITSTATUS(wire_u32(&m, F_WSTATUS, 0)), 5);
	assert_true(wire_has(&m, F_CPU_USEC));
	wire_msg_free(&m);
	assert_int_equal(helper_next(&f->h, TBIT(H_HELD_END), NULL, &j, WAIT_MS, &m), 1);
	wire_msg_free(&m);
	job_close(&j);
	still_serving(&f->h);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_default, fx_teardown)
#define TN(fn) cmocka_unit_test_setup_teardown(fn, fx_none, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ready),
		T(test_ids),
		T(test_caps_nnp_seccomp),
		T(test_namespaces),
		T(test_cgroup_outside),
		T(test_cgroup_inside),
		T(test_seccomp_denies),
		T(test_seccomp_socket_families),
		T(test_fds),
		T(test_env_exact),
		T(test_cwd),
		TN(test_no_tty),
		T(test_exit_codes),
		T(test_traceme_stop),
		T(test_signal_status),
		T(test_sigterm_forwarded),
		T(test_kill_ignores_term),
		T(test_eof_kills_all),
		T(test_cpu_usage_reported),
		T(test_rootfs_allowed),
		TN(test_ns_off_allowed),
		T(test_exec_missing),
		T(test_bad_cwd),
		T(test_memory_controller_absent),
		T(test_uid_root),
		T(test_uid_below_min),
		T(test_uid_above_max),
		T(test_uid_no_passwd),
		T(test_job_id_hostile),
		T(test_rootfs_not_allowed),
		T(test_rootfs_swapped_for_symlink),
		T(test_limit_above_policy),
		T(test_ns_off_not_allowed),
		TN(test_network_refused),
		TN(test_network_without_nft),
		TN(test_max_jobs),
		T(test_unknown_job_signal_kill),
		T(test_signal_refused),
		T(test_fields_past_bounds),
		T(test_bad_frames),
		T(test_fd_counts),
		T(test_stdio_fds_checked),
		T(test_tty),
		TN(test_not_manager),
		TN(test_bad_policy),
		TN(test_hostile_start_fds),
		TN(test_hostile_start_env),
		TN(test_hostile_start_both),
		TN(test_sweep_at_start),
		TN(test_manager_cannot_migrate),
		cmocka_unit_test_setup_teardown(test_helper_joins_base, fx_none,
						fx_teardown_other_base),
		T(test_one_helper_per_base),
		T(test_reexec_keeps_jobs),
		T(test_jobs_lists_held),
		T(test_reexec_bad_policy),
		TN(test_reexec_forged_state),
		T(test_start_latency),
	};

	if (geteuid() != 0) {
		printf("check-helper: SKIPPED (needs root)\n");
		return 0;
	}
	if (getenv("CRLT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CRLT_TEST_FILTER"));
	atexit(suite_cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("corral-helper (host)", tests,
					   group_setup, group_teardown);
}
