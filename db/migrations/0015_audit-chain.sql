-- The audit trail is append-only in Postgres itself, and hash-chained (db/schema/audit.ts,
-- app/audit/, docs/audit.md): model_events and execution_status_history refuse UPDATE, DELETE and
-- TRUNCATE; each inserted row gets prev_hash (the hash of the row before it, GENESIS for the first)
-- and hash = sha256(prev_hash || LF || canonical content). app/audit/chain.ts computes the same
-- canonical content in TypeScript; `vh audit verify` recomputes every chain.
--
-- Canonical content (version vh-audit-1): 'vh-audit-1|<table>' then each field, in a fixed order,
-- as '|' || '~' for NULL or '<octets in UTF-8>:<text>'; the length prefix makes the form
-- unambiguous whatever the text holds. Times are UTC with microseconds (YYYY-MM-DDTHH:MI:SS.USZ);
-- jsonb as its ::text output, which Postgres makes canonical (keys sorted, duplicates dropped,
-- one spacing), so equal documents hash equal however their keys were ordered when written.
CREATE FUNCTION vh_audit_field(v text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(convert_to(v, 'UTF8'))::text || ':' || v END
$$;
--> statement-breakpoint
CREATE FUNCTION vh_audit_time(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
--> statement-breakpoint
CREATE FUNCTION vh_audit_hash(prev text, content text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(prev || E'\n' || content, 'UTF8')), 'hex')
$$;
--> statement-breakpoint
CREATE FUNCTION vh_model_events_canonical(r model_events) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'vh-audit-1|model_events'
    || '|' || vh_audit_field(r.id::text) || '|' || vh_audit_field(r.model_id::text) || '|' || vh_audit_field(r.version_id::text)
    || '|' || vh_audit_field(r.kind) || '|' || vh_audit_field(r.actor) || '|' || vh_audit_field(r.source)
    || '|' || vh_audit_field(r.source_url) || '|' || vh_audit_field(r.reason) || '|' || vh_audit_field(r.details::text)
    || '|' || vh_audit_field(vh_audit_time(r.at))
$$;
--> statement-breakpoint
CREATE FUNCTION vh_execution_status_history_canonical(r execution_status_history) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'vh-audit-1|execution_status_history'
    || '|' || vh_audit_field(r.id::text) || '|' || vh_audit_field(r.execution_id::text)
    || '|' || vh_audit_field(r.status) || '|' || vh_audit_field(r.reason) || '|' || vh_audit_field(vh_audit_time(r.at))
$$;
--> statement-breakpoint
-- Appends one row to a chain: locks its head (so one chain's inserts are serialised until commit),
-- refuses an id that does not come after the head's (the chain is in id order), moves the head on.
CREATE FUNCTION vh_audit_append(p_chain text, p_id bigint, p_content text, OUT prev_hash text, OUT hash text) LANGUAGE plpgsql AS $$
DECLARE
  h audit_chain_heads;
BEGIN
  SELECT * INTO h FROM audit_chain_heads WHERE chain = p_chain FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the audit chain head of % is missing from audit_chain_heads: no row can be appended to %', p_chain, p_chain
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF h.last_id IS NOT NULL AND p_id <= h.last_id THEN
    RAISE EXCEPTION '% row % would be chained after row %: the chain is in id order (insert without an explicit id)', p_chain, p_id, h.last_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  prev_hash := h.last_hash;
  hash := vh_audit_hash(h.last_hash, p_content);
  UPDATE audit_chain_heads SET last_id = p_id, last_hash = hash, row_count = row_count + 1, updated_at = now() WHERE chain = p_chain;
END
$$;
--> statement-breakpoint
INSERT INTO audit_chain_heads (chain, last_id, last_hash, row_count) VALUES
  ('model_events', NULL, repeat('0', 64), 0),
  ('execution_status_history', NULL, repeat('0', 64), 0);
--> statement-breakpoint
-- The rows already there, chained in id order.
DO $$
DECLARE
  r model_events;
  s execution_status_history;
  link record;
BEGIN
  FOR r IN SELECT * FROM model_events ORDER BY id LOOP
    SELECT * INTO link FROM vh_audit_append('model_events', r.id, vh_model_events_canonical(r));
    UPDATE model_events SET prev_hash = link.prev_hash, hash = link.hash WHERE id = r.id;
  END LOOP;
  FOR s IN SELECT * FROM execution_status_history ORDER BY id LOOP
    SELECT * INTO link FROM vh_audit_append('execution_status_history', s.id, vh_execution_status_history_canonical(s));
    UPDATE execution_status_history SET prev_hash = link.prev_hash, hash = link.hash WHERE id = s.id;
  END LOOP;
END
$$;
--> statement-breakpoint
-- Before any row of an INSERT is built: the head's lock is taken before the id defaults are drawn,
-- so ids grow in the order rows join the chain (vh_audit_append still refuses one that does not).
CREATE FUNCTION vh_audit_lock_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM audit_chain_heads WHERE chain = TG_TABLE_NAME FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the audit chain head of % is missing from audit_chain_heads: no row can be appended to %', TG_TABLE_NAME, TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION vh_model_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link record;
BEGIN
  SELECT * INTO link FROM vh_audit_append(TG_TABLE_NAME, NEW.id, vh_model_events_canonical(NEW));
  NEW.prev_hash := link.prev_hash;
  NEW.hash := link.hash;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE FUNCTION vh_execution_status_history_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link record;
BEGIN
  SELECT * INTO link FROM vh_audit_append(TG_TABLE_NAME, NEW.id, vh_execution_status_history_canonical(NEW));
  NEW.prev_hash := link.prev_hash;
  NEW.hash := link.hash;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE FUNCTION vh_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused (the audit trail is never changed or removed; vh audit verify checks it)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
-- A head only moves on with its chain: one row further, to a later id.
CREATE FUNCTION vh_audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.chain = OLD.chain AND NEW.row_count = OLD.row_count + 1
    AND NEW.last_id IS NOT NULL AND (OLD.last_id IS NULL OR NEW.last_id > OLD.last_id) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_chain_heads only moves forward with its chain: % of the head of % refused', TG_OP, OLD.chain
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER model_events_chain_lock BEFORE INSERT ON model_events FOR EACH STATEMENT EXECUTE FUNCTION vh_audit_lock_chain();
--> statement-breakpoint
CREATE TRIGGER model_events_chain BEFORE INSERT ON model_events FOR EACH ROW EXECUTE FUNCTION vh_model_events_chain();
--> statement-breakpoint
CREATE TRIGGER model_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON model_events FOR EACH STATEMENT EXECUTE FUNCTION vh_audit_refuse();
--> statement-breakpoint
CREATE TRIGGER execution_status_history_chain_lock BEFORE INSERT ON execution_status_history FOR EACH STATEMENT EXECUTE FUNCTION vh_audit_lock_chain();
--> statement-breakpoint
CREATE TRIGGER execution_status_history_chain BEFORE INSERT ON execution_status_history FOR EACH ROW EXECUTE FUNCTION vh_execution_status_history_chain();
--> statement-breakpoint
CREATE TRIGGER execution_status_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON execution_status_history FOR EACH STATEMENT EXECUTE FUNCTION vh_audit_refuse();
--> statement-breakpoint
CREATE TRIGGER audit_chain_heads_guard BEFORE UPDATE OR DELETE ON audit_chain_heads FOR EACH ROW EXECUTE FUNCTION vh_audit_heads_guard();
--> statement-breakpoint
CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads FOR EACH STATEMENT EXECUTE FUNCTION vh_audit_refuse();
