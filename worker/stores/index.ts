/**
 * Builds the configured store. S3 credentials are not part of the config: the AWS SDK's default
 * chain finds them (environment, shared profile, instance or task role).
 */
import type { StoreConfig } from "../../app/config.js";
import { createLocalStore } from "./local.js";
import { createS3Store } from "./s3.js";
import type { Store } from "../../app/contracts/store.js";

export function createStore(cfg: StoreConfig): Store {
  switch (cfg.kind) {
    case "local":
      return createLocalStore(cfg.root);
    case "s3":
      return createS3Store({
        bucket: cfg.bucket,
        prefix: cfg.prefix,
        region: cfg.region,
        forcePathStyle: cfg.forcePathStyle,
        ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      });
  }
}

export type { Store, StoredObject, PutResult } from "../../app/contracts/store.js";
