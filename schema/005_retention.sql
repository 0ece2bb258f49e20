-- corral job store, version 5: retention.  log_size is the log file's
-- size in whole records (what deleting it frees); log_deleted_ms says
-- when retention or `corral rm` deleted it.  A job's end for retention is
-- its ended_ms, or its created_ms when its end is unknown (lost).
ALTER TABLE jobs ADD COLUMN log_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN log_deleted_ms INTEGER;
CREATE INDEX jobs_finished ON jobs (COALESCE(ended_ms, created_ms))
	WHERE state NOT IN ('starting', 'running');
