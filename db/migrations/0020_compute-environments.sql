ALTER TABLE "executions" ADD COLUMN "environment" text;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "attempt" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "attempts" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "cost_usd" double precision;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "provider" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "environment" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "instance_id" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "launch_token" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "lifecycle" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "lifecycle_reason" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "region" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "zone" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "instance_type" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "spot" boolean;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "price_per_hour" double precision;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "launched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "ready_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "idle_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "terminated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "interruption" text;--> statement-breakpoint
CREATE INDEX "hosts_environment" ON "hosts" USING btree ("environment","lifecycle");--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_instance_id_unique" UNIQUE("instance_id");--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_launch_token_unique" UNIQUE("launch_token");