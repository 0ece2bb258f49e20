-- corral job store, version 9: --network.  network is the run option as
-- given (NAME or NAME=ADDRESS, common/runopt.def); net_address (A.B.C.D/N)
-- and net_mac are what the helper gave the job, set when it runs.
ALTER TABLE jobs ADD COLUMN network TEXT;
ALTER TABLE jobs ADD COLUMN net_address TEXT;
ALTER TABLE jobs ADD COLUMN net_mac TEXT;
