-- The rollout model: plans of tasks, their runs, replica heartbeats, and the
-- webhook claim table of the design plan being studied.
-- Every run of hasim applies this inside its own schema (hasim_<run id>).

CREATE TABLE plan (
    id BIGSERIAL PRIMARY KEY,
    project TEXT NOT NULL,
    title TEXT NOT NULL,
    -- The notification contract's episode counter: bumped by every BatchRunTasks or
    -- BatchSkipTasks that changes a task. The real system has no such column; hasim's
    -- senders read it to derive a webhook-id that is stable across retries.
    episode INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE task (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL REFERENCES plan(id),
    -- 1-based order of the task inside its plan.
    position INT NOT NULL CHECK (position >= 1),
    name TEXT NOT NULL,
    skipped BOOLEAN NOT NULL DEFAULT false,
    skipped_reason TEXT,
    UNIQUE (plan_id, position)
);

CREATE TABLE task_run (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES task(id),
    attempt INT NOT NULL CHECK (attempt >= 1),
    status TEXT NOT NULL
        CHECK (status IN ('PENDING', 'AVAILABLE', 'RUNNING', 'DONE', 'FAILED', 'CANCELED')),
    -- The replica that took the run (set when it becomes RUNNING).
    replica_id TEXT,
    result TEXT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (task_id, attempt)
);

-- The schedulers look for work by status; finished runs are the bulk and never match.
CREATE INDEX task_run_open_idx ON task_run (status, id)
    WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING');

CREATE TABLE replica_heartbeat (
    replica_id TEXT PRIMARY KEY,
    last_heartbeat TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Tracks webhook delivery for pipeline events (PIPELINE_FAILED or PIPELINE_COMPLETED).
-- One row per plan at any time - mutually exclusive events.
-- Row is deleted when user clicks BatchRunTasks to reset notification state.
-- (Exactly as the design plan defines it. The plan's LATEST.sql also carries
-- `ALTER SEQUENCE plan_webhook_delivery_plan_id_seq RESTART WITH 101;`, left out
-- here: plan_id is not serial, so that sequence does not exist and the line fails.)
CREATE TABLE plan_webhook_delivery (
    plan_id BIGINT PRIMARY KEY REFERENCES plan(id),
    -- Event type: 'PIPELINE_FAILED' or 'PIPELINE_COMPLETED'
    event_type TEXT NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Migration 0002 adds the outbox table of the `outbox` strategy.
