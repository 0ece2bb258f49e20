-- corral job store, version 8: the run options interactive and tty
-- (flags, 1 when given; see common/runopt.def and docs/tty.md).
ALTER TABLE jobs ADD COLUMN interactive INTEGER;
ALTER TABLE jobs ADD COLUMN tty INTEGER;
