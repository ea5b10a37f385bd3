CREATE TABLE "execution_model_inputs" (
	"execution_id" uuid NOT NULL,
	"input" text NOT NULL,
	"uri" text NOT NULL,
	"version_id" uuid NOT NULL,
	"resolved_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "execution_model_inputs_execution_id_input_version_id_pk" PRIMARY KEY("execution_id","input","version_id")
);
--> statement-breakpoint
CREATE TABLE "model_approval_requests" (
	"version_id" uuid NOT NULL,
	"repo" text NOT NULL,
	"pr_number" integer NOT NULL,
	"head_sha" text NOT NULL,
	"files_sha256" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_approval_requests_version_id_repo_pr_number_pk" PRIMARY KEY("version_id","repo","pr_number")
);
--> statement-breakpoint
CREATE TABLE "model_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_id" uuid NOT NULL,
	"version_id" uuid,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"source" text NOT NULL,
	"source_url" text,
	"reason" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_version_files" (
	"version_id" uuid NOT NULL,
	"name" text NOT NULL,
	"datum_id" uuid NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	CONSTRAINT "model_version_files_version_id_name_pk" PRIMARY KEY("version_id","name")
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"source_kind" text NOT NULL,
	"source_execution_id" uuid,
	"commit_sha" text,
	"triggered_by" text,
	"created_by" text,
	"description" text,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"files_sha256" text NOT NULL,
	"approved_sha256" text,
	"status_by" text,
	"status_reason" text,
	"status_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "models" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"approvers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"separation_of_duties" boolean DEFAULT false NOT NULL,
	"version_counter" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "models_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "triggered_by" text;--> statement-breakpoint
ALTER TABLE "execution_model_inputs" ADD CONSTRAINT "execution_model_inputs_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_model_inputs" ADD CONSTRAINT "execution_model_inputs_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_approval_requests" ADD CONSTRAINT "model_approval_requests_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_events" ADD CONSTRAINT "model_events_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_events" ADD CONSTRAINT "model_events_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_version_files" ADD CONSTRAINT "model_version_files_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_version_files" ADD CONSTRAINT "model_version_files_datum_id_datums_id_fk" FOREIGN KEY ("datum_id") REFERENCES "public"."datums"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_source_execution_id_executions_id_fk" FOREIGN KEY ("source_execution_id") REFERENCES "public"."executions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "execution_model_inputs_version" ON "execution_model_inputs" USING btree ("version_id");--> statement-breakpoint
CREATE INDEX "model_approval_requests_pr" ON "model_approval_requests" USING btree ("repo","pr_number");--> statement-breakpoint
CREATE INDEX "model_events_model_at" ON "model_events" USING btree ("model_id","at");--> statement-breakpoint
CREATE INDEX "model_events_version" ON "model_events" USING btree ("version_id");--> statement-breakpoint
CREATE INDEX "model_version_files_datum" ON "model_version_files" USING btree ("datum_id");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_model_number" ON "model_versions" USING btree ("model_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_model_execution" ON "model_versions" USING btree ("model_id","source_execution_id");--> statement-breakpoint
CREATE INDEX "model_versions_execution" ON "model_versions" USING btree ("source_execution_id");--> statement-breakpoint
CREATE INDEX "model_versions_commit" ON "model_versions" USING btree ("commit_sha");--> statement-breakpoint
CREATE INDEX "model_versions_approved" ON "model_versions" USING btree ("model_id","number" DESC NULLS LAST) WHERE status = 'approved';