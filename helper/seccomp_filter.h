#ifndef CORRAL_HELPER_SECCOMP_H
#define CORRAL_HELPER_SECCOMP_H

/* Build the job's filter once, at helper start-up, into BPF held in
 * memory (docs/seccomp.md gives each rule's reason).  Returns 0 or
 * -errno. */
int seccomp_compile_job_filter(void);

/* Install the compiled filter in the calling process (which must have
 * no_new_privs).  Async-signal-safe: one prctl.  Returns 0 or -errno. */
int seccomp_load_job_filter(void);

#endif
