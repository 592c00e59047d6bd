// The stack's layout without starting anything: names, ports from the base port, wiring.
import { planStackProcesses, stackProcessNames } from './stack';

describe('stack plan', () => {
  it('uses the services\' default ports from 50051', () => {
    const plan = Object.fromEntries(planStackProcesses().map((p) => [p.name, p]));
    expect(Object.keys(plan).sort()).toEqual(['bounds', 'certifier', 'inference', 'sampler', 'verifier']);
    expect([plan.certifier.port, plan.sampler.port, plan.inference.port, plan.bounds.port, plan.verifier.port]).toEqual([50051, 50052, 50053, 50054, 50055]);
    expect(plan.certifier.env).toMatchObject({ CERTIFIER_HOST: '127.0.0.1', CERTIFIER_PORT: '50051', SAMPLER_ADDRS: '127.0.0.1:50052', BOUNDS_ADDR: '127.0.0.1:50054' });
    expect(plan.sampler.env).toMatchObject({ SAMPLER_PORT: '50052', INFERENCE_ADDR: '127.0.0.1:50053' });
    expect(plan.verifier.env).toMatchObject({ BOUNDS_ADDR: '127.0.0.1:50054', SAMPLER_ADDRS: '127.0.0.1:50052' });
  });

  it('adds samplers after P+4, with a shared or an own sidecar each', () => {
    const shared = planStackProcesses({ samplers: 3, basePort: 40000 });
    expect(shared.map((p) => `${p.name}:${p.port}`)).toEqual([
      'certifier:40000',
      'sampler-1:40001',
      'sampler-2:40005',
      'sampler-3:40006',
      'inference:40002',
      'bounds:40003',
      'verifier:40004',
    ]);
    expect(new Set(shared.filter((p) => p.role === 'sampler').map((p) => p.env.INFERENCE_ADDR))).toEqual(new Set(['127.0.0.1:40002']));
    const own = planStackProcesses({ samplers: 3, basePort: 40000, inference: 'per-sampler' });
    const ports = own.map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
    expect(own.filter((p) => p.role === 'sampler').map((p) => p.env.INFERENCE_ADDR)).toEqual(['127.0.0.1:40002', '127.0.0.1:40007', '127.0.0.1:40008']);
    expect(own.find((p) => p.name === 'certifier')!.env.SAMPLER_ADDRS).toBe('127.0.0.1:40001,127.0.0.1:40005,127.0.0.1:40006');
    expect(stackProcessNames({ samplers: 2, inference: 'per-sampler' })).toEqual(['certifier', 'sampler-1', 'sampler-2', 'inference-1', 'inference-2', 'bounds', 'verifier']);
  });

  it('environment overrides: everyone, then a role, then one process', () => {
    const plan = planStackProcesses({
      samplers: 2,
      keysDir: '/k',
      env: { OTEL_SERVICE_NAME: 'x', LOG_LEVEL: 'warn' },
      processEnv: { sampler: { LOG_LEVEL: 'info' }, 'sampler-2': { LOG_LEVEL: 'debug', SAMPLER_BATCH_SIZE: '64' } },
    });
    const by = Object.fromEntries(plan.map((p) => [p.name, p.env]));
    expect(by.certifier).toMatchObject({ OTEL_SERVICE_NAME: 'x', LOG_LEVEL: 'warn', CERTIFIER_SIGNING_KEY_FILE: '/k/signing.pem' });
    expect(by.verifier).toMatchObject({ VERIFIER_PUBLIC_KEYS_DIR: '/k' });
    expect(by['sampler-1']).toMatchObject({ LOG_LEVEL: 'info' });
    expect(by['sampler-2']).toMatchObject({ LOG_LEVEL: 'debug', SAMPLER_BATCH_SIZE: '64' });
  });
});
