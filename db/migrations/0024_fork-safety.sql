-- Fork safety: a project decides whether commands run on fork pull requests without --allow-fork
-- and whether a fork's own valohai.yaml is used (both off by default); vh keeps each pull request's
-- head commits with when they became the head, so that a command runs the commit it was commented
-- on (app/bot/pin-head.ts).
ALTER TABLE projects ADD COLUMN fork_commands boolean NOT NULL DEFAULT false;
--> statement-breakpoint
ALTER TABLE projects ADD COLUMN fork_configs boolean NOT NULL DEFAULT false;
--> statement-breakpoint
CREATE TABLE change_request_heads (
  forge text NOT NULL,
  repository_id bigint NOT NULL,
  number integer NOT NULL,
  sha text NOT NULL,
  at timestamptz NOT NULL,
  CONSTRAINT change_request_heads_forge_repository_id_number_at_sha_pk PRIMARY KEY (forge, repository_id, number, at, sha)
);
