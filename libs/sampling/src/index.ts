// @glcert/sampling: counting samples over the samplers, for the certifier and the verifier's
// audit: the chunk plan (pure) and the SamplerPool (a client per SAMPLER_ADDRS entry, chunk
// scheduling, failover, the per-chunk model check).
export { splitRange, splitSpan, planCalls, addCounts, mergeCounts, sum } from './chunks';
export type { Chunk } from './chunks';
export { SamplerPool } from './sampler-pool';
export type { SamplerPoolOptions, CallScope, EndpointStats, CountBase } from './sampler-pool';
