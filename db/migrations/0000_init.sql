CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"admin" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"execution_counter" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "code_snapshots" (
	"sha256" text PRIMARY KEY NOT NULL,
	"size" bigint NOT NULL,
	"store_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_inputs" (
	"execution_id" uuid NOT NULL,
	"input" text NOT NULL,
	"name" text NOT NULL,
	"uri" text NOT NULL,
	"datum_id" uuid,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	CONSTRAINT "execution_inputs_execution_id_input_name_pk" PRIMARY KEY("execution_id","input","name")
);
--> statement-breakpoint
CREATE TABLE "execution_status_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"execution_id" uuid NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "executions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"counter" integer NOT NULL,
	"step" text NOT NULL,
	"title" text,
	"status" text NOT NULL,
	"status_detail" text,
	"code_sha256" text,
	"commit_sha" text,
	"yaml_path" text DEFAULT 'valohai.yaml' NOT NULL,
	"image" text NOT NULL,
	"command" text NOT NULL,
	"command_list" jsonb NOT NULL,
	"parameters" jsonb NOT NULL,
	"inputs" jsonb NOT NULL,
	"environment_variables" jsonb NOT NULL,
	"gpus" integer DEFAULT 0 NOT NULL,
	"time_limit_s" integer,
	"no_output_timeout_s" integer,
	"runner" text DEFAULT 'local' NOT NULL,
	"host" text,
	"runner_handle" jsonb,
	"runtime" jsonb,
	"exit_code" integer,
	"warnings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"invalid_json_lines" integer DEFAULT 0 NOT NULL,
	"metadata_latest" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"log_offsets" jsonb DEFAULT '{"stdout":0,"stderr":0}'::jsonb NOT NULL,
	"log_partial" jsonb DEFAULT '{"stdout":"","stderr":""}'::jsonb NOT NULL,
	"log_seq" integer DEFAULT 0 NOT NULL,
	"metadata_seq" integer DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"stop_requested_at" timestamp with time zone,
	"stop_cause" text,
	"last_output_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"queued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "log_lines" (
	"execution_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"stream" text NOT NULL,
	"line" text NOT NULL,
	CONSTRAINT "log_lines_execution_id_seq_pk" PRIMARY KEY("execution_id","seq")
);
--> statement-breakpoint
CREATE TABLE "metadata_events" (
	"execution_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"data" jsonb NOT NULL,
	CONSTRAINT "metadata_events_execution_id_seq_pk" PRIMARY KEY("execution_id","seq")
);
--> statement-breakpoint
CREATE TABLE "datums" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"execution_id" uuid,
	"name" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"store_key" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "execution_inputs" ADD CONSTRAINT "execution_inputs_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_status_history" ADD CONSTRAINT "execution_status_history_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "log_lines" ADD CONSTRAINT "log_lines_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metadata_events" ADD CONSTRAINT "metadata_events_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "datums" ADD CONSTRAINT "datums_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "datums" ADD CONSTRAINT "datums_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "execution_inputs_datum" ON "execution_inputs" USING btree ("datum_id");--> statement-breakpoint
CREATE INDEX "execution_status_history_execution" ON "execution_status_history" USING btree ("execution_id");--> statement-breakpoint
CREATE UNIQUE INDEX "executions_project_counter" ON "executions" USING btree ("project_id","counter");--> statement-breakpoint
CREATE INDEX "executions_status" ON "executions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "metadata_events_data" ON "metadata_events" USING gin ("data");--> statement-breakpoint
CREATE INDEX "datums_execution" ON "datums" USING btree ("execution_id");--> statement-breakpoint
CREATE INDEX "datums_sha256" ON "datums" USING btree ("sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "datums_execution_name_sha256" ON "datums" USING btree ("execution_id","name","sha256");