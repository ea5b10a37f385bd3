-- Closes what 0012's row triggers left open (the review of issue 18):
-- - a direct DELETE of a dataset cascaded away its immutable versions, their files and their
--   lineage: a dataset now goes only with its project (the project row is gone by then);
-- - TRUNCATE fires no row trigger: it is refused on the three tables outright;
-- - an UPDATE of a version could change its id, or set its producing execution to null at will:
--   the id must stay, and the execution link may only go when that execution is gone.
CREATE FUNCTION datasets_deleted_with_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'dataset "%" (%) holds immutable versions: it is deleted only with its project', OLD.name, OLD.id
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER datasets_deleted_with_project BEFORE DELETE ON datasets
  FOR EACH ROW EXECUTE FUNCTION datasets_deleted_with_project();
--> statement-breakpoint
CREATE FUNCTION datasets_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'TRUNCATE of % refused: dataset versions are immutable', TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER datasets_no_truncate BEFORE TRUNCATE ON datasets FOR EACH STATEMENT EXECUTE FUNCTION datasets_no_truncate();
--> statement-breakpoint
CREATE TRIGGER dataset_versions_no_truncate BEFORE TRUNCATE ON dataset_versions FOR EACH STATEMENT EXECUTE FUNCTION datasets_no_truncate();
--> statement-breakpoint
CREATE TRIGGER dataset_version_files_no_truncate BEFORE TRUNCATE ON dataset_version_files FOR EACH STATEMENT EXECUTE FUNCTION datasets_no_truncate();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION dataset_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM datasets WHERE id = OLD.dataset_id) THEN
      RETURN OLD;
    END IF;
  ELSIF NEW.id = OLD.id AND NEW.dataset_id = OLD.dataset_id AND NEW.name = OLD.name AND NEW.seq = OLD.seq
    AND NEW.created_by = OLD.created_by AND NEW.created_at = OLD.created_at
    AND (NEW.execution_id IS NOT DISTINCT FROM OLD.execution_id
      -- Only the producing execution's link may go, and only when that execution is gone (ON DELETE SET NULL).
      OR (NEW.execution_id IS NULL AND NOT EXISTS (SELECT 1 FROM executions WHERE id = OLD.execution_id))) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'dataset versions are immutable: % of version "%" (%) refused', TG_OP, OLD.name, OLD.id
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
