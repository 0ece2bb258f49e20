-- corral job store, version 4: the run option private_tmp (a flag, 1
-- when given; see common/runopt.def).
ALTER TABLE jobs ADD COLUMN private_tmp INTEGER;
