CREATE TABLE "audit_chain_heads" (
	"chain" text PRIMARY KEY NOT NULL,
	"last_id" bigint,
	"last_hash" text NOT NULL,
	"row_count" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "execution_status_history" DROP CONSTRAINT "execution_status_history_execution_id_executions_id_fk";
--> statement-breakpoint
ALTER TABLE "execution_status_history" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "execution_status_history" ADD COLUMN "hash" text;--> statement-breakpoint
ALTER TABLE "model_events" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "model_events" ADD COLUMN "hash" text;