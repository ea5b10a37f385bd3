CREATE TABLE "execution_reproductions" (
	"execution_id" uuid PRIMARY KEY NOT NULL,
	"original_id" uuid NOT NULL,
	"verify" boolean NOT NULL,
	"tolerance" double precision DEFAULT 0 NOT NULL,
	"verdict" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "execution_reproductions" ADD CONSTRAINT "execution_reproductions_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_reproductions" ADD CONSTRAINT "execution_reproductions_original_id_executions_id_fk" FOREIGN KEY ("original_id") REFERENCES "public"."executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "execution_reproductions_original" ON "execution_reproductions" USING btree ("original_id");