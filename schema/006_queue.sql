-- corral job store, version 6: the queue.  Two new states, queued (over
-- a cap, or waiting for another job; survives a restart) and cancelled
-- (a queued job stopped, or whose --after-ok job did not exit 0); the
-- run option priority; after_id/after_ok, the job it waits for.  SQLite
-- cannot change a CHECK in place, so the table is made anew and the rows
-- copied (store.c runs every migration with foreign keys off and checks
-- them before the commit, so audit rows keep their job ids).
CREATE TABLE jobs_new (
	id TEXT PRIMARY KEY NOT NULL,
	uid INTEGER NOT NULL,
	user TEXT,
	name TEXT,
	state TEXT NOT NULL CHECK (state IN ('queued', 'starting', 'running',
		'exited', 'killed', 'stopped', 'oom', 'timed_out', 'failed',
		'lost', 'cancelled')),
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
	log_dropped INTEGER NOT NULL DEFAULT 0,
	errno INTEGER,
	memory_high INTEGER,
	cpu_weight INTEGER,
	io_weight INTEGER,
	private_tmp INTEGER,
	log_size INTEGER NOT NULL DEFAULT 0,
	log_deleted_ms INTEGER,
	priority INTEGER,
	after_id TEXT,
	after_ok INTEGER
);
INSERT INTO jobs_new (id, uid, user, name, state, argv, env, cwd,
	memory_max, memory_swap_max, cpu_quota_usec, pids_max, cpuset_cpus,
	cpuset_mems, io_limit, ns_off, rootfs, timeout_ms, pid, created_ms,
	started_ms, ended_ms, exit_code, signal, wstatus, oom_kills, cpu_usec,
	memory_peak, error, stage, log_bytes, log_dropped, errno, memory_high,
	cpu_weight, io_weight, private_tmp, log_size, log_deleted_ms)
SELECT id, uid, user, name, state, argv, env, cwd,
	memory_max, memory_swap_max, cpu_quota_usec, pids_max, cpuset_cpus,
	cpuset_mems, io_limit, ns_off, rootfs, timeout_ms, pid, created_ms,
	started_ms, ended_ms, exit_code, signal, wstatus, oom_kills, cpu_usec,
	memory_peak, error, stage, log_bytes, log_dropped, errno, memory_high,
	cpu_weight, io_weight, private_tmp, log_size, log_deleted_ms FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_uid_created ON jobs (uid, created_ms, id);
CREATE INDEX jobs_created ON jobs (created_ms, id);
CREATE INDEX jobs_state ON jobs (state, created_ms, id);
CREATE INDEX jobs_name ON jobs (name, created_ms) WHERE name IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (COALESCE(ended_ms, created_ms))
	WHERE state NOT IN ('queued', 'starting', 'running');
