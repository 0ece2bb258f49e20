-- corral job store, version 7: the run options umask (the job's file
-- mode creation mask) and merge (stdout and stderr as one pipe; 1 when
-- given); see common/runopt.def.
ALTER TABLE jobs ADD COLUMN umask INTEGER;
ALTER TABLE jobs ADD COLUMN merge INTEGER;
