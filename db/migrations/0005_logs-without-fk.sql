ALTER TABLE "log_lines" DROP CONSTRAINT "log_lines_execution_id_executions_id_fk";
--> statement-breakpoint
ALTER TABLE "metadata_events" DROP CONSTRAINT "metadata_events_execution_id_executions_id_fk";
