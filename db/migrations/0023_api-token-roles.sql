-- API tokens get a role (viewer < member < admin), an optional project they are scoped to, an
-- expiry, a revocation time and who made them (app/auth/access.ts says what each may do).
-- `admin` stays: the server's admin (every route); such a token has the role admin and no project.
ALTER TABLE api_tokens ADD COLUMN role text NOT NULL DEFAULT 'member';
--> statement-breakpoint
UPDATE api_tokens SET role = 'admin' WHERE admin;
--> statement-breakpoint
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role CHECK (role IN ('viewer', 'member', 'admin'));
--> statement-breakpoint
ALTER TABLE api_tokens ADD COLUMN project_id uuid REFERENCES projects(id) ON DELETE CASCADE;
--> statement-breakpoint
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_admin_is_server_wide CHECK (NOT admin OR (role = 'admin' AND project_id IS NULL));
--> statement-breakpoint
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
--> statement-breakpoint
ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz;
--> statement-breakpoint
ALTER TABLE api_tokens ADD COLUMN created_by text;
--> statement-breakpoint
CREATE INDEX api_tokens_project ON api_tokens (project_id);
