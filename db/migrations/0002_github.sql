CREATE TABLE "sweep_executions" (
	"sweep_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"execution_id" uuid NOT NULL,
	CONSTRAINT "sweep_executions_sweep_id_position_pk" PRIMARY KEY("sweep_id","position")
);
--> statement-breakpoint
CREATE TABLE "sweeps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"step" text NOT NULL,
	"kind" text DEFAULT 'grid' NOT NULL,
	"spec" jsonb NOT NULL,
	"commit_sha" text NOT NULL,
	"code_sha256" text NOT NULL,
	"source" jsonb NOT NULL,
	"triggered_by" text NOT NULL,
	"request_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_check_runs" (
	"sweep_id" uuid PRIMARY KEY NOT NULL,
	"check_run_id" bigint,
	"body_hash" text,
	"annotations" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"annotations_sent" boolean DEFAULT false NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "github_commit_snapshots" (
	"repository_id" bigint NOT NULL,
	"commit_sha" text NOT NULL,
	"code_sha256" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "github_commit_snapshots_repository_id_commit_sha_pk" PRIMARY KEY("repository_id","commit_sha")
);
--> statement-breakpoint
CREATE TABLE "github_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"event" text NOT NULL,
	"action" text,
	"installation_id" bigint,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	"outcome" text
);
--> statement-breakpoint
CREATE TABLE "github_installations" (
	"id" bigint PRIMARY KEY NOT NULL,
	"account_login" text NOT NULL,
	"account_type" text NOT NULL,
	"suspended" boolean DEFAULT false NOT NULL,
	"removed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_pull_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"repository_id" bigint NOT NULL,
	"number" integer NOT NULL,
	"installation_id" bigint NOT NULL,
	"repo" text NOT NULL,
	"sticky_comment_id" bigint,
	"sticky_body_hash" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_repositories" (
	"id" bigint PRIMARY KEY NOT NULL,
	"installation_id" bigint NOT NULL,
	"full_name" text NOT NULL,
	"project_id" uuid,
	"removed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sweep_executions" ADD CONSTRAINT "sweep_executions_sweep_id_sweeps_id_fk" FOREIGN KEY ("sweep_id") REFERENCES "public"."sweeps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweep_executions" ADD CONSTRAINT "sweep_executions_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "github_check_runs" ADD CONSTRAINT "github_check_runs_sweep_id_sweeps_id_fk" FOREIGN KEY ("sweep_id") REFERENCES "public"."sweeps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "github_repositories" ADD CONSTRAINT "github_repositories_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "sweep_executions_execution" ON "sweep_executions" USING btree ("execution_id");--> statement-breakpoint
CREATE UNIQUE INDEX "sweeps_request_key" ON "sweeps" USING btree ("request_key");--> statement-breakpoint
CREATE INDEX "sweeps_commit" ON "sweeps" USING btree ("commit_sha");--> statement-breakpoint
CREATE INDEX "github_deliveries_received" ON "github_deliveries" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "github_pull_requests_repo_number" ON "github_pull_requests" USING btree ("repository_id","number");