-- The audit chains' head is locked by the first row an INSERT appends, not by the statement.
--
-- Until now a BEFORE INSERT ... FOR EACH STATEMENT trigger took the head's lock (held to commit)
-- so that ids are drawn in chain order. A statement trigger fires even when the INSERT adds no
-- row, and transition() (app/executions/state.ts) appends its history row with an INSERT ... SELECT
-- that adds nothing when the status did not allow the move. So a transaction whose first
-- transition was refused held the whole chain and could then wait for an execution row whose
-- single-statement transition was waiting for the chain: a deadlock (stopExecution of a starting
-- execution against its own start, seen in bench webhook-to-spawn).
--
-- Now the row trigger takes the lock (vh_audit_lock_id below, before the row is chained). An id the
-- column's default drew before the lock, and that another transaction's row has meanwhile passed,
-- is replaced by a fresh one drawn under the lock: ids still grow in chain order, and an explicit
-- id that does not come after the head is refused as before.
DROP TRIGGER IF EXISTS model_events_chain_lock ON model_events;
--> statement-breakpoint
DROP TRIGGER IF EXISTS execution_status_history_chain_lock ON execution_status_history;
--> statement-breakpoint
DROP FUNCTION IF EXISTS vh_audit_lock_chain();
--> statement-breakpoint
-- Locks the chain's head and returns the id the row joins the chain with: its own when it comes
-- after the head's; a fresh one from the table's sequence when the default drew it before a row
-- of another transaction joined (the default's value is this session's currval); else refused.
CREATE FUNCTION vh_audit_lock_id(p_chain text, p_id bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  h audit_chain_heads;
  seq text := pg_get_serial_sequence(p_chain, 'id');
  drawn bigint;
BEGIN
  SELECT * INTO h FROM audit_chain_heads WHERE chain = p_chain FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the audit chain head of % is missing from audit_chain_heads: no row can be appended to %', p_chain, p_chain
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF h.last_id IS NULL OR p_id > h.last_id THEN
    RETURN p_id;
  END IF;
  BEGIN
    drawn := currval(seq);
  EXCEPTION WHEN object_not_in_prerequisite_state THEN
    drawn := NULL; -- nothing drawn in this session: the id was given explicitly
  END;
  IF drawn IS NOT NULL AND drawn = p_id THEN
    RETURN nextval(seq);
  END IF;
  RETURN p_id; -- vh_audit_append refuses it, naming the head
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION vh_model_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link record;
BEGIN
  NEW.id := vh_audit_lock_id(TG_TABLE_NAME, NEW.id);
  SELECT * INTO link FROM vh_audit_append(TG_TABLE_NAME, NEW.id, vh_model_events_canonical(NEW));
  NEW.prev_hash := link.prev_hash;
  NEW.hash := link.hash;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION vh_execution_status_history_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link record;
BEGIN
  NEW.id := vh_audit_lock_id(TG_TABLE_NAME, NEW.id);
  SELECT * INTO link FROM vh_audit_append(TG_TABLE_NAME, NEW.id, vh_execution_status_history_canonical(NEW));
  NEW.prev_hash := link.prev_hash;
  NEW.hash := link.hash;
  RETURN NEW;
END
$$;
