// @glcert/bounds-service: BoundService over @glcert/bounds with a durable cache.
// `startBoundsService(config)` for tests and `glcert up`; standalone: src/main.ts.
export { startBoundsService, boundRequestFromProto, boundToProto } from './bound-service';
export type { BoundsServiceHandle, BoundsServiceOptions } from './bound-service';
export { boundsConfigSchema, defaultBoundsConfig, DEFAULT_CACHE_DIR, SERVICE_NAME } from './config';
export type { BoundsConfig } from './config';
export { BoundCache } from './cache';
