ALTER TABLE "execution_status_history" ALTER COLUMN "prev_hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "execution_status_history" ALTER COLUMN "hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "model_events" ALTER COLUMN "prev_hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "model_events" ALTER COLUMN "hash" SET NOT NULL;