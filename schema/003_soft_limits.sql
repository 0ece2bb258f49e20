-- corral job store, version 3: the soft resource controls (run options
-- memory_high, cpu_weight and io_weight; see common/runopt.def).
ALTER TABLE jobs ADD COLUMN memory_high INTEGER;
ALTER TABLE jobs ADD COLUMN cpu_weight INTEGER;
ALTER TABLE jobs ADD COLUMN io_weight INTEGER;
