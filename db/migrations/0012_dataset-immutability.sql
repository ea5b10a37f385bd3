-- A dataset version is immutable (app/datasets/versions.ts): once written, its files are never
-- updated or deleted, and the version keeps its dataset, name, place in order and creator. Rows
-- go only with their parent, when a project (so its datasets) is deleted: then the parent is gone
-- by the time its children's delete runs, which is how these triggers tell that from a direct one.
CREATE FUNCTION dataset_version_files_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM dataset_versions WHERE id = OLD.version_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'dataset version files are immutable: % of "%" in version % refused', TG_OP, OLD.path, OLD.version_id
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER dataset_version_files_immutable BEFORE UPDATE OR DELETE ON dataset_version_files
  FOR EACH ROW EXECUTE FUNCTION dataset_version_files_immutable();
--> statement-breakpoint
CREATE FUNCTION dataset_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM datasets WHERE id = OLD.dataset_id) THEN
      RETURN OLD;
    END IF;
  ELSIF NEW.dataset_id = OLD.dataset_id AND NEW.name = OLD.name AND NEW.seq = OLD.seq
    AND NEW.created_by = OLD.created_by AND NEW.created_at = OLD.created_at
    AND (NEW.execution_id IS NOT DISTINCT FROM OLD.execution_id OR NEW.execution_id IS NULL) THEN
    -- Only the producing execution's link may go (ON DELETE SET NULL); the version stays as it was.
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'dataset versions are immutable: % of version "%" (%) refused', TG_OP, OLD.name, OLD.id
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE OR DELETE ON dataset_versions
  FOR EACH ROW EXECUTE FUNCTION dataset_versions_immutable();
--> statement-breakpoint
-- A version's datum stays while the version does; checked at commit, so deleting a project (its
-- datums, and its datasets with their files, by cascade in whatever order) is not refused midway.
ALTER TABLE dataset_version_files ALTER CONSTRAINT dataset_version_files_datum_id_datums_id_fk DEFERRABLE INITIALLY DEFERRED;
