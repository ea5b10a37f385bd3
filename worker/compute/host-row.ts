/** A rented host as the compute manager and the spot watch read it from the hosts table (worker/compute/lifecycle.ts). */
export interface ManagedHostRow {
  id: string;
  name: string;
  environment: string;
  provider: string;
  instance_id: string | null;
  launch_token: string | null;
  lifecycle: string;
  instance_type: string | null;
  zone: string | null;
  spot: boolean | null;
  price_per_hour: number | null;
  address: string | null;
  key_path: string | null;
  host_key_sha256: string | null;
  launched_at: Date | null;
  created_at: Date;
  idle_since: Date | null;
  interruption: string | null;
  /** Unreleased placements on it. */
  placed: number;
}
