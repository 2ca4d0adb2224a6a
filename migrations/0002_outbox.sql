-- The `outbox` strategy's events: a row per (plan, event type, episode) owed,
-- written in the same transaction as the status change that owes it, then taken
-- by a relay on any replica under a lease and marked once delivered.

CREATE TABLE plan_event_outbox (
    plan_id BIGINT NOT NULL REFERENCES plan(id),
    event_type TEXT NOT NULL CHECK (event_type IN ('PIPELINE_FAILED', 'PIPELINE_COMPLETED')),
    episode INT NOT NULL,
    -- Leases taken so far (each lease is one delivery job with its own retries).
    leases INT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, event_type, episode)
);

-- A plan completes at most once in its life: one PIPELINE_COMPLETED row at most.
CREATE UNIQUE INDEX plan_event_outbox_completed_once ON plan_event_outbox (plan_id)
    WHERE event_type = 'PIPELINE_COMPLETED';

-- What a relay looks for.
CREATE INDEX plan_event_outbox_pending ON plan_event_outbox (plan_id, episode, event_type)
    WHERE delivered_at IS NULL;
