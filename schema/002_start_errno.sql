-- corral job store, version 2: the errno of a failed start, beside its
-- stage, so clients tell "command not found" from other failures by
-- number, not by the message's text.
ALTER TABLE jobs ADD COLUMN errno INTEGER;
