#ifndef CORRAL_HELPER_SECCOMP_H
#define CORRAL_HELPER_SECCOMP_H

/* Load the job's filter (docs/seccomp.md gives each rule's reason).
 * Returns 0 or -errno. */
int seccomp_load_job_filter(void);

#endif
