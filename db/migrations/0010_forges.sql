-- Forge-neutral records: every GitHub-named table that is not GitHub's own becomes keyed by forge;
-- rows written before keep working as GitHub's. Linked plain-Git repositories join.
ALTER TABLE "github_deliveries" RENAME TO "forge_deliveries";--> statement-breakpoint
ALTER TABLE "forge_deliveries" ADD COLUMN "forge" text DEFAULT 'github' NOT NULL;--> statement-breakpoint
ALTER TABLE "forge_deliveries" ALTER COLUMN "forge" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "forge_deliveries" DROP CONSTRAINT "github_deliveries_pkey";--> statement-breakpoint
ALTER TABLE "forge_deliveries" ADD CONSTRAINT "forge_deliveries_forge_id_pk" PRIMARY KEY("forge","id");--> statement-breakpoint
ALTER INDEX "github_deliveries_received" RENAME TO "forge_deliveries_received";--> statement-breakpoint
ALTER TABLE "github_repositories" RENAME TO "forge_repositories";--> statement-breakpoint
ALTER TABLE "forge_repositories" ADD COLUMN "forge" text DEFAULT 'github' NOT NULL;--> statement-breakpoint
ALTER TABLE "forge_repositories" ALTER COLUMN "forge" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "forge_repositories" DROP CONSTRAINT "github_repositories_pkey";--> statement-breakpoint
ALTER TABLE "forge_repositories" ADD CONSTRAINT "forge_repositories_forge_id_pk" PRIMARY KEY("forge","id");--> statement-breakpoint
ALTER TABLE "forge_repositories" RENAME CONSTRAINT "github_repositories_project_id_projects_id_fk" TO "forge_repositories_project_id_projects_id_fk";--> statement-breakpoint
ALTER TABLE "github_pull_requests" RENAME TO "change_requests";--> statement-breakpoint
ALTER TABLE "change_requests" ADD COLUMN "forge" text DEFAULT 'github' NOT NULL;--> statement-breakpoint
ALTER TABLE "change_requests" ALTER COLUMN "forge" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "change_requests" RENAME CONSTRAINT "github_pull_requests_pkey" TO "change_requests_pkey";--> statement-breakpoint
DROP INDEX "github_pull_requests_repo_number";--> statement-breakpoint
CREATE UNIQUE INDEX "change_requests_repo_number" ON "change_requests" USING btree ("forge","repository_id","number");--> statement-breakpoint
ALTER TABLE "github_check_runs" RENAME TO "sweep_reports";--> statement-breakpoint
ALTER TABLE "sweep_reports" RENAME CONSTRAINT "github_check_runs_pkey" TO "sweep_reports_pkey";--> statement-breakpoint
ALTER TABLE "sweep_reports" RENAME CONSTRAINT "github_check_runs_sweep_id_sweeps_id_fk" TO "sweep_reports_sweep_id_sweeps_id_fk";--> statement-breakpoint
ALTER TABLE "github_commit_snapshots" RENAME TO "forge_commit_snapshots";--> statement-breakpoint
ALTER TABLE "forge_commit_snapshots" ADD COLUMN "forge" text DEFAULT 'github' NOT NULL;--> statement-breakpoint
ALTER TABLE "forge_commit_snapshots" ALTER COLUMN "forge" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "forge_commit_snapshots" DROP CONSTRAINT "github_commit_snapshots_repository_id_commit_sha_pk";--> statement-breakpoint
ALTER TABLE "forge_commit_snapshots" ADD CONSTRAINT "forge_commit_snapshots_forge_repository_id_commit_sha_pk" PRIMARY KEY("forge","repository_id","commit_sha");--> statement-breakpoint
UPDATE "sweeps" SET "source" = jsonb_set("source", '{kind}', '"forge"') || '{"forge":"github"}'::jsonb WHERE "source"->>'kind' = 'github';--> statement-breakpoint
CREATE TABLE "git_repositories" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "git_repositories_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"url" text NOT NULL,
	"name" text NOT NULL,
	"project_id" uuid NOT NULL,
	"branches" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"poll_seconds" integer DEFAULT 60 NOT NULL,
	"key_file" text,
	"token_env" text,
	"known_hosts" text,
	"webhook_secret" text,
	"default_branch" text,
	"refs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_poll_at" timestamp with time zone,
	"last_error" text,
	"last_commit_sha" text,
	"last_lint" text,
	"failures" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
ALTER TABLE "git_repositories" ADD CONSTRAINT "git_repositories_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;
