-- hasim's own record of which store operations committed. Every write a replica
-- makes in a scenario run inserts its operation's identity here, in the write's own
-- transaction, when the write changed something. A row is there exactly when the
-- write committed, so after the run hasim can tell, for an operation whose answer
-- never came back (the replica crashed, the link was cut, the reply was lost),
-- whether it committed and what it returned. The run is the schema (hasim_<run id>).

CREATE TABLE hasim_commit_log (
    -- The operation, numbered in the order the run invoked its operations.
    op BIGINT PRIMARY KEY,
    -- The replica incarnation that invoked it (r2, r2.2, ...).
    replica TEXT NOT NULL,
    -- The history's sequence number when it was invoked.
    invoked BIGINT NOT NULL,
    -- What it returned, as hasim's JSON of the operation's result.
    result JSONB NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
