#include "seccomp_filter.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>

#include "cleanup.h"

/* Denied outright with EPERM: kernel-attack and escape surface that no
 * ordinary job needs.  docs/seccomp.md says why, line by line. */
static const char *const denied[] = {
	"init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "reboot",
	"mount", "umount2", "pivot_root", "chroot", "mount_setattr",
	"move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"setns", "bpf", "perf_event_open", "userfaultfd",
	"open_by_handle_at", "name_to_handle_at",
	"keyctl", "add_key", "request_key",
	"process_vm_readv", "process_vm_writev", "kcmp",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"settimeofday", "clock_settime", "clock_adjtime",
	"iopl", "ioperm", "lookup_dcookie", "uselib", "_sysctl", "sysfs",
	"ustat", "vhangup", "nfsservctl", "fanotify_init",
	"modify_ldt", "memfd_secret",
};

/* The only socket families a job may create: local IPC, IP in its own
 * network namespace, and netlink (ip(8), getaddrinfo's AI_ADDRCONFIG).
 * Everything else (AF_VSOCK, which no network namespace isolates,
 * AF_ALG, AF_KEY, old protocol modules the kernel would autoload) is
 * answered as if the kernel lacked it. */
static const int socket_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

static void cleanup_ctx(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

static int deny_flag(scmp_filter_ctx c, const char *name, unsigned arg,
		     unsigned long long flag)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), nr, 1,
				SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, flag, flag));
}

static bool family_allowed(unsigned long long f)
{
	for (size_t i = 0; i < ARRAY_SIZE(socket_families); i++)
		if ((unsigned long long)socket_families[i] == f)
			return true;
	return false;
}

/* Refuse every domain of socket(2)/socketpair(2) outside the allowed
 * families.  One comparison per rule, so: each refused value up to the
 * largest allowed one, then everything above it.  The comparisons see
 * all 64 bits while the kernel reads an int, so a domain with junk in
 * the upper half is above the largest allowed value and refused too. */
static int deny_families(scmp_filter_ctx c, int nr)
{
	unsigned long long max = 0;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(socket_families); i++)
		if ((unsigned long long)socket_families[i] > max)
			max = (unsigned long long)socket_families[i];
	for (unsigned long long f = 0; f < max; f++) {
		if (family_allowed(f))
			continue;
		r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, f));
		if (r < 0)
			return r;
	}
	return seccomp_rule_add(c, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
				SCMP_A0(SCMP_CMP_GT, max));
}

static int build(scmp_filter_ctx *out)
{
	__attribute__((cleanup(cleanup_ctx))) scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	int r, nr;

	if (!c)
		return -ENOMEM;
	/* Other architectures' syscall tables (i386, x32) are killed
	 * rather than filtered twice. */
	r = seccomp_attr_set(c, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}
	/* New user namespaces are the door to most privileged-only kernel
	 * code; clone3's flags live in memory seccomp cannot read, so it
	 * says ENOSYS and libc falls back to clone. */
	if ((r = deny_flag(c, "unshare", 0, CLONE_NEWUSER)) < 0 ||
	    (r = deny_flag(c, "clone", 0, CLONE_NEWUSER)) < 0)
		return r;
	nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR &&
	    (r = seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
		return r;
	/* Tracing is for one's own children (PTRACE_TRACEME), never for
	 * attaching to other processes. */
	if ((r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 1,
				  SCMP_A0(SCMP_CMP_EQ, PTRACE_ATTACH))) < 0 ||
	    (r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 1,
				  SCMP_A0(SCMP_CMP_EQ, PTRACE_SEIZE))) < 0)
		return r;
	if ((r = deny_families(c, SCMP_SYS(socket))) < 0 ||
	    (r = deny_families(c, SCMP_SYS(socketpair))) < 0)
		return r;
	/* Faking terminal input (CVE-2017-5226 class). */
	if ((r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI))) < 0 ||
	    (r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX))) < 0)
		return r;
	*out = c;
	c = NULL;
	return 0;
}

static struct sock_filter *prog;
static unsigned short prog_len;

int seccomp_compile_job_filter(void)
{
	__attribute__((cleanup(cleanup_ctx))) scmp_filter_ctx c = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r = build(&c);

	if (r < 0)
		return r;
	fd = memfd_create("corral-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(c, fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof *prog ||
	    st.st_size / (off_t)sizeof *prog > BPF_MAXINSNS)
		return -EINVAL;
	prog = malloc((size_t)st.st_size);
	if (!prog)
		return -ENOMEM;
	if (pread(fd, prog, (size_t)st.st_size, 0) != st.st_size)
		return -EIO;
	prog_len = (unsigned short)(st.st_size / (off_t)sizeof *prog);
	return 0;
}

int seccomp_load_job_filter(void)
{
	struct sock_fprog fp = { .len = prog_len, .filter = prog };

	if (!prog)
		return -EINVAL;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
		return -errno;
	return 0;
}
