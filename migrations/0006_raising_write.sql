-- A replica's status write, and the outbox design's status write that raises the
-- event it owes, as functions the store calls in one statement.
--
-- The raising write locks its plan row, ends the run, checks the plan and inserts
-- the outbox row, and, for a write of a scenario run, records itself in the commit
-- log. As separate statements that was eight round trips, and the plan row's lock was
-- held across the network for most of them: a plan's ten tasks end close together,
-- so its writes queued on the lock. In one function the lock is held for the
-- statements alone. The statements, their order, their locks and what each sees
-- (READ COMMITTED: a fresh snapshot per statement) are what they were.

-- The status write of `p_run` to `p_status` (with `p_error`) by replica `p_replica`,
-- guarded as `p_write` says: 'fenced' (the run must be RUNNING and held by the
-- writer), 'status-guarded' (RUNNING, held by anyone) or 'unfenced' (any run). It
-- returns the run's task, plan and attempt and the status the run had before (an
-- unfenced write may overwrite an ended run), or no row when the guard refused.
CREATE FUNCTION hasim_finish_run(p_run BIGINT, p_status TEXT, p_error TEXT, p_replica TEXT, p_write TEXT)
RETURNS TABLE (task BIGINT, plan BIGINT, attempt INT, before TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF p_write = 'fenced' THEN
        RETURN QUERY
        UPDATE task_run r SET status = p_status, error = p_error, finished_at = now(), updated_at = now(),
            failed_episode = CASE WHEN p_status = 'FAILED'
                THEN (SELECT p.episode FROM plan p WHERE p.id = t.plan_id) END
        FROM task t
        WHERE t.id = r.task_id AND r.id = p_run AND r.status = 'RUNNING' AND r.replica_id = p_replica
        RETURNING r.task_id, t.plan_id, r.attempt, 'RUNNING'::text;
    ELSIF p_write = 'status-guarded' THEN
        -- The real system's newest guard: `AND status = ANY(allowed statuses)`.
        RETURN QUERY
        UPDATE task_run r SET status = p_status, error = p_error, finished_at = now(), updated_at = now(),
            failed_episode = CASE WHEN p_status = 'FAILED'
                THEN (SELECT p.episode FROM plan p WHERE p.id = t.plan_id) END
        FROM task t
        WHERE t.id = r.task_id AND r.id = p_run AND r.status = 'RUNNING'
        RETURNING r.task_id, t.plan_id, r.attempt, 'RUNNING'::text;
    ELSIF p_write = 'unfenced' THEN
        -- `WHERE id = $1`, the HA-era store's. The sub-select locks the row and reads
        -- its latest version, which the update then replaces: its status is the one
        -- the write overwrote.
        RETURN QUERY
        UPDATE task_run r SET status = p_status, error = p_error, finished_at = now(), updated_at = now(),
            failed_episode = CASE WHEN p_status = 'FAILED'
                THEN (SELECT p.episode FROM plan p WHERE p.id = t.plan_id) END
        FROM task t, (SELECT id, status FROM task_run WHERE id = p_run FOR UPDATE) old
        WHERE t.id = r.task_id AND r.id = old.id
        RETURNING r.task_id, t.plan_id, r.attempt, old.status;
    ELSE
        RAISE EXCEPTION 'unknown status write %', p_write;
    END IF;
END
$$;

-- Inserts an outbox row unless the event (or, for PIPELINE_COMPLETED, any completion
-- of the plan) is there already; true when it inserted one.
CREATE FUNCTION hasim_raise(p_plan BIGINT, p_event TEXT, p_episode INT) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plan_event_outbox (plan_id, event_type, episode) VALUES (p_plan, p_event, p_episode)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Whether every task of the plan is done (its latest run DONE) or skipped. In
-- PL/pgSQL, whose statements are planned once per connection: a SQL function that
-- cannot be inlined is parsed and planned again at every call.
CREATE FUNCTION hasim_plan_complete(p_plan BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) > 0 AND count(*) FILTER (WHERE NOT (t.skipped OR coalesce(r.status, '') = 'DONE')) = 0
            FROM task t LEFT JOIN LATERAL (SELECT status FROM task_run WHERE task_id = t.id
                                           ORDER BY attempt DESC LIMIT 1) r ON true
            WHERE t.plan_id = p_plan);
END
$$;

-- The outbox design's status write: lock the run's plan, write the run's end as
-- hasim_finish_run does, and raise PIPELINE_FAILED for a failed run or
-- PIPELINE_COMPLETED for a DONE that completes the plan, in the plan's episode. It
-- returns hasim's JSON of what it did, {"value": <the ended run or null>, "raised":
-- [<events>]}; when it changed something and `p_op` is given, that JSON goes into
-- the commit log as operation `p_op` of incarnation `p_by`, invoked at `p_invoked`.
CREATE FUNCTION hasim_finish_run_raising(
    p_run BIGINT, p_status TEXT, p_error TEXT, p_replica TEXT, p_write TEXT,
    p_op BIGINT, p_by TEXT, p_invoked BIGINT
) RETURNS JSONB
LANGUAGE plpgsql AS $$
DECLARE
    v_plan BIGINT;
    v_episode INT;
    v_ended RECORD;
    v_value JSONB;
    v_event TEXT;
    v_raised JSONB := '[]';
    v_result JSONB;
BEGIN
    SELECT t.plan_id INTO v_plan FROM task_run r JOIN task t ON t.id = r.task_id WHERE r.id = p_run;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('value', NULL, 'raised', v_raised);
    END IF;
    SELECT episode INTO v_episode FROM plan WHERE id = v_plan FOR UPDATE;
    SELECT * INTO v_ended FROM hasim_finish_run(p_run, p_status, p_error, p_replica, p_write);
    IF FOUND THEN
        v_value := jsonb_build_object('run', p_run, 'task', v_ended.task, 'plan', v_ended.plan,
            'attempt', v_ended.attempt, 'replica', p_replica, 'status', p_status);
        IF v_ended.before NOT IN ('PENDING', 'AVAILABLE', 'RUNNING') THEN
            v_value := v_value || jsonb_build_object('overwrote', v_ended.before);
        END IF;
        IF p_status = 'FAILED' THEN
            v_event := 'PIPELINE_FAILED';
        ELSIF p_status = 'DONE' AND hasim_plan_complete(v_plan) THEN
            v_event := 'PIPELINE_COMPLETED';
        END IF;
        IF v_event IS NOT NULL AND hasim_raise(v_plan, v_event, v_episode) THEN
            v_raised := jsonb_build_array(jsonb_build_object('plan', v_plan, 'event', v_event, 'episode', v_episode));
        END IF;
    END IF;
    v_result := jsonb_build_object('value', v_value, 'raised', v_raised);
    IF p_op IS NOT NULL AND (v_value IS NOT NULL OR jsonb_array_length(v_raised) > 0) THEN
        INSERT INTO hasim_commit_log (op, replica, invoked, result) VALUES (p_op, p_by, p_invoked, v_result);
    END IF;
    RETURN v_result;
END
$$;
