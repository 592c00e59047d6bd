import * as grpc from '@grpc/grpc-js';
import { clientChannelOptions, clientTarget, createClient, serviceConfigJson, waitForServing } from './client';
import { startTestService, type Harness } from './testing/harness';
import { call, TestClientCtor } from './testing/test-service';

describe('clientTarget', () => {
  it('passes one address through (DNS name, dns:/// headless service, IP)', () => {
    expect(clientTarget('sampler:50052')).toBe('sampler:50052');
    expect(clientTarget('dns:///sampler-headless.glcert.svc:50052')).toBe('dns:///sampler-headless.glcert.svc:50052');
    expect(clientTarget(['127.0.0.1:1'])).toBe('127.0.0.1:1');
  });

  it('turns several IP literals into a static ipv4:/ipv6: list', () => {
    expect(clientTarget('127.0.0.1:1, 127.0.0.1:2')).toBe('ipv4:127.0.0.1:1,127.0.0.1:2');
    expect(clientTarget(['[::1]:1', '[::1]:2'])).toBe('ipv6:[::1]:1,[::1]:2');
  });

  it('refuses several host names, pointing at dns:///', () => {
    expect(() => clientTarget('a:1,b:2')).toThrow(/dns:\/\/\//);
    expect(() => clientTarget([])).toThrow(/no address/);
  });
});

describe('channel options', () => {
  it('sets both message limits, keepalive and a round_robin service config', () => {
    const o = clientChannelOptions({ maxReceiveMessageBytes: 123_456, maxSendMessageBytes: 654_321 });
    expect(o['grpc.max_receive_message_length']).toBe(123_456);
    expect(o['grpc.max_send_message_length']).toBe(654_321);
    expect(o['grpc.keepalive_time_ms']).toBe(30_000);
    expect(JSON.parse(o['grpc.service_config'] as string)).toEqual({ loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] });
  });

  it('retries only UNAVAILABLE, only for the methods named idempotent', () => {
    const cfg = JSON.parse(serviceConfigJson({ retryUnavailable: [{ service: 'glcert.certify.v1.CertificationService', method: 'Certify' }] }));
    expect(cfg.methodConfig).toEqual([
      {
        name: [{ service: 'glcert.certify.v1.CertificationService', method: 'Certify' }],
        retryPolicy: expect.objectContaining({ maxAttempts: 3, retryableStatusCodes: [grpc.status.UNAVAILABLE] }),
      },
    ]);
  });
});

describe('round-robin over replicas', () => {
  const replicas: Harness[] = [];
  beforeAll(async () => {
    replicas.push(await startTestService(), await startTestService());
    for (const r of replicas) r.svc.ready();
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('spreads calls over every address of an ipv4: list', async () => {
    const client = createClient(TestClientCtor, replicas.map((r) => r.svc.address));
    try {
      for (let i = 0; i < 20; i++) await call(client, 'echo', { text: `rr${i}` });
      const counts = replicas.map((r) => r.probe.started.filter((t) => t.startsWith('rr')).length);
      expect(counts[0]! + counts[1]!).toBe(20);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(8); // round robin, not pick-first
    } finally {
      client.close();
    }
  });

  it('keeps serving from the live replicas when one address is down', async () => {
    const dead = '127.0.0.1:1';
    const client = createClient(TestClientCtor, [dead, ...replicas.map((r) => r.svc.address)], { defaultDeadlineMs: 5_000 });
    try {
      for (let i = 0; i < 6; i++) expect((await call(client, 'echo', { text: `live${i}` })).text).toBe(`live${i}`);
    } finally {
      client.close();
    }
  });

  it('waitForServing polls Health/Check until SERVING', async () => {
    const h = replicas[0]!;
    h.svc.notReady();
    setTimeout(() => h.svc.ready(), 150);
    await expect(waitForServing(h.health(), '', 5_000, 20)).resolves.toBeUndefined();
  });
});
