-- corral job store, version 1.  Applied by corrald inside one transaction;
-- PRAGMA user_version records which migrations ran (see docs/schema.md).

-- One row per job, from the start request to its end.  Times are ms since
-- the epoch, UTC.  NULL means "not set" (no such limit, not started yet...).
-- argv and env are blobs of NUL-terminated strings; io_limit is a blob of
-- 40-byte struct io_limit records as on the wire.
CREATE TABLE jobs (
	id TEXT PRIMARY KEY NOT NULL,
	uid INTEGER NOT NULL,
	user TEXT,
	name TEXT,
	state TEXT NOT NULL CHECK (state IN ('starting', 'running', 'exited',
		'killed', 'stopped', 'oom', 'timed_out', 'failed', 'lost')),
	argv BLOB NOT NULL,
	env BLOB,
	cwd TEXT NOT NULL,
	memory_max INTEGER,
	memory_swap_max INTEGER,
	cpu_quota_usec INTEGER,
	pids_max INTEGER,
	cpuset_cpus TEXT,
	cpuset_mems TEXT,
	io_limit BLOB,
	ns_off INTEGER NOT NULL DEFAULT 0,
	rootfs TEXT,
	timeout_ms INTEGER,
	pid INTEGER,
	created_ms INTEGER NOT NULL,
	started_ms INTEGER,
	ended_ms INTEGER,
	exit_code INTEGER,
	signal INTEGER,
	wstatus INTEGER,
	oom_kills INTEGER,
	cpu_usec INTEGER,
	memory_peak INTEGER,
	error TEXT,
	stage TEXT,
	log_bytes INTEGER NOT NULL DEFAULT 0,
	log_dropped INTEGER NOT NULL DEFAULT 0
);

-- "corral list" for one user, newest first (the common query).
CREATE INDEX jobs_uid_created ON jobs (uid, created_ms, id);
-- "corral list --all" for admins, newest first.
CREATE INDEX jobs_created ON jobs (created_ms, id);
-- "--state running" and the start-up sweep of starting/running jobs.
CREATE INDEX jobs_state ON jobs (state, created_ms, id);
-- Job references by name: the newest job with that name.
CREATE INDEX jobs_name ON jobs (name, created_ms) WHERE name IS NOT NULL;

-- Append-only record of every request, allowed or refused.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	time_ms INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	pid INTEGER,
	action TEXT NOT NULL,
	job_id TEXT REFERENCES jobs (id) ON DELETE SET NULL,
	outcome TEXT NOT NULL,
	detail TEXT
);

CREATE INDEX audit_time ON audit (time_ms);
CREATE INDEX audit_job ON audit (job_id) WHERE job_id IS NOT NULL;
