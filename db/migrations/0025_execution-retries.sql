-- Retries on failure, opt-in per run (`--retries N`, the API's `retries`): a failed attempt starts
-- the next while fewer than this many attempts failed (worker/scheduler/settle.ts).
ALTER TABLE executions ADD COLUMN retries integer NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE executions ADD CONSTRAINT executions_retries CHECK (retries >= 0 AND retries <= 10);
