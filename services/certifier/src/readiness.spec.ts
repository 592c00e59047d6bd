// The certifier's readiness rule; following the statuses (Health/Watch, no polling) is tested
// with followHealth in libs/runtime (follow-health.spec.ts).
import type { DependencyStatus } from '@glcert/runtime';
import { certifierReady } from './readiness';

const statuses = (samplers: DependencyStatus[], bounds: DependencyStatus): Map<string, DependencyStatus> =>
  new Map<string, DependencyStatus>([...samplers.map((s, i): [string, DependencyStatus] => [`sampler ${i}`, s]), ['bounds', bounds]]);

describe('certifierReady', () => {
  it('needs the bound service and at least one sampler SERVING', () => {
    expect(certifierReady(statuses(['NOT_SERVING', 'SERVING'], 'SERVING'))).toBe(true);
    expect(certifierReady(statuses(['SERVING'], 'SERVING'))).toBe(true);
    expect(certifierReady(statuses(['SERVING', 'SERVING'], 'NOT_SERVING'))).toBe(false);
    expect(certifierReady(statuses(['SERVING'], 'UNREACHABLE'))).toBe(false);
    expect(certifierReady(statuses(['NOT_SERVING', 'UNREACHABLE', 'SERVICE_UNKNOWN'], 'SERVING'))).toBe(false);
    expect(certifierReady(statuses([], 'SERVING'))).toBe(false);
  });
});
