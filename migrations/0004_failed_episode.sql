-- The plan's episode when a run's FAILED committed (NULL for a run that did not
-- fail). The real system has no such column; hasim's outbox relay reads it to name,
-- in a PIPELINE_FAILED payload, the tasks that failed in that payload's episode.
ALTER TABLE task_run ADD COLUMN failed_episode INT;
