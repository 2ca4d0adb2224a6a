-- The change feed a watcher of the plans reads (the users, who react to what their
-- plans show): each task and run row carries the transaction that last wrote it, so
-- "the plans changed since I last looked" is an index range scan, not a read of every
-- plan. A reader keeps the oldest transaction still running when it read
-- (pg_snapshot_xmin) and next reads the rows written by that one or later: a write
-- that commits after a read is never missed. The real system has no such columns.
CREATE FUNCTION note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed := pg_current_xact_id();
    RETURN NEW;
END
$$;

ALTER TABLE task ADD COLUMN changed xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE task_run ADD COLUMN changed xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER task_changed BEFORE UPDATE ON task FOR EACH ROW EXECUTE FUNCTION note_change();
CREATE TRIGGER task_run_changed BEFORE UPDATE ON task_run FOR EACH ROW EXECUTE FUNCTION note_change();
CREATE INDEX task_changed_idx ON task (changed);
CREATE INDEX task_run_changed_idx ON task_run (changed);
