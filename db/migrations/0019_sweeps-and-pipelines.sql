CREATE TABLE "pipeline_nodes" (
	"pipeline_id" uuid NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"type" text NOT NULL,
	"status" text DEFAULT 'waiting' NOT NULL,
	"status_detail" text,
	"on_error" text DEFAULT 'stop-all' NOT NULL,
	"edge_merge_mode" text DEFAULT 'replace' NOT NULL,
	"actions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"execution_id" uuid,
	"sweep_id" uuid,
	"reused_from" uuid,
	"approved_by" text,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "pipeline_nodes_pipeline_id_name_pk" PRIMARY KEY("pipeline_id","name")
);
--> statement-breakpoint
CREATE TABLE "pipelines" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"counter" integer NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"status_detail" text,
	"commit_sha" text,
	"code_sha256" text NOT NULL,
	"yaml_path" text DEFAULT 'valohai.yaml' NOT NULL,
	"edges" jsonb NOT NULL,
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"node_parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"reuse" text DEFAULT 'yes' NOT NULL,
	"source" jsonb NOT NULL,
	"triggered_by" text NOT NULL,
	"request_key" text,
	"report_check_run_id" text,
	"report_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "pipeline_counter" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "stop_condition" text;--> statement-breakpoint
ALTER TABLE "sweep_executions" ADD COLUMN "point" jsonb;--> statement-breakpoint
ALTER TABLE "sweeps" ADD COLUMN "definition" jsonb;--> statement-breakpoint
ALTER TABLE "sweeps" ADD COLUMN "stopped_reason" text;--> statement-breakpoint
ALTER TABLE "pipeline_nodes" ADD CONSTRAINT "pipeline_nodes_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_nodes" ADD CONSTRAINT "pipeline_nodes_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_nodes" ADD CONSTRAINT "pipeline_nodes_sweep_id_sweeps_id_fk" FOREIGN KEY ("sweep_id") REFERENCES "public"."sweeps"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_nodes" ADD CONSTRAINT "pipeline_nodes_reused_from_executions_id_fk" FOREIGN KEY ("reused_from") REFERENCES "public"."executions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "pipeline_nodes_execution" ON "pipeline_nodes" USING btree ("execution_id");--> statement-breakpoint
CREATE INDEX "pipeline_nodes_sweep" ON "pipeline_nodes" USING btree ("sweep_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_project_counter" ON "pipelines" USING btree ("project_id","counter");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_request_key" ON "pipelines" USING btree ("request_key");