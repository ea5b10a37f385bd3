-- Idempotency-Key on the creating REST requests (app/http/idempotency.ts): the key, its body's
-- sha256 and what it made, written in the transaction that makes it.
CREATE TABLE "api_requests" (
	"key" text PRIMARY KEY NOT NULL,
	"body_sha256" text NOT NULL,
	"kind" text NOT NULL,
	"resource_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "api_requests_created" ON "api_requests" USING btree ("created_at");
