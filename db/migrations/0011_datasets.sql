CREATE TABLE "dataset_aliases" (
	"dataset_id" uuid NOT NULL,
	"name" text NOT NULL,
	"version_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dataset_aliases_dataset_id_name_pk" PRIMARY KEY("dataset_id","name")
);
--> statement-breakpoint
CREATE TABLE "dataset_version_files" (
	"version_id" uuid NOT NULL,
	"path" text NOT NULL,
	"datum_id" uuid NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	CONSTRAINT "dataset_version_files_version_id_path_pk" PRIMARY KEY("version_id","path")
);
--> statement-breakpoint
CREATE TABLE "dataset_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dataset_id" uuid NOT NULL,
	"name" text NOT NULL,
	"seq" integer NOT NULL,
	"execution_id" uuid,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"version_counter" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_dataset_inputs" (
	"execution_id" uuid NOT NULL,
	"input" text NOT NULL,
	"uri" text NOT NULL,
	"version_id" uuid NOT NULL,
	"resolved_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "execution_dataset_inputs_execution_id_input_version_id_pk" PRIMARY KEY("execution_id","input","version_id")
);
--> statement-breakpoint
ALTER TABLE "dataset_aliases" ADD CONSTRAINT "dataset_aliases_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_aliases" ADD CONSTRAINT "dataset_aliases_version_id_dataset_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_version_files" ADD CONSTRAINT "dataset_version_files_version_id_dataset_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_version_files" ADD CONSTRAINT "dataset_version_files_datum_id_datums_id_fk" FOREIGN KEY ("datum_id") REFERENCES "public"."datums"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_dataset_inputs" ADD CONSTRAINT "execution_dataset_inputs_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_dataset_inputs" ADD CONSTRAINT "execution_dataset_inputs_version_id_dataset_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dataset_version_files_datum" ON "dataset_version_files" USING btree ("datum_id");--> statement-breakpoint
CREATE UNIQUE INDEX "dataset_versions_dataset_name" ON "dataset_versions" USING btree ("dataset_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "dataset_versions_dataset_seq" ON "dataset_versions" USING btree ("dataset_id","seq");--> statement-breakpoint
CREATE INDEX "dataset_versions_execution" ON "dataset_versions" USING btree ("execution_id");--> statement-breakpoint
CREATE UNIQUE INDEX "datasets_project_name" ON "datasets" USING btree ("project_id","name");--> statement-breakpoint
CREATE INDEX "execution_dataset_inputs_version" ON "execution_dataset_inputs" USING btree ("version_id");