import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { captureLogger } from './testing/harness';
import { ConfigError, describeConfig, env, EXIT_CONFIG, loadConfig, parseAddr, readConfig, serverConfigSchema } from './config';
import { startService } from './server';
import { TestServiceDefinition } from './testing/test-service';
import { testImplementation } from './testing/test-implementation';

const schema = {
  port: env.int('SVC_PORT', { default: 50051, min: 0, max: 65535 }),
  ratio: env.float('SVC_RATIO', { default: 0.5, min: 0, max: 1 }),
  mode: env.string('SVC_MODE', { default: 'cpu', oneOf: ['cpu', 'cuda'] }),
  tags: env.list('SVC_TAGS', { default: [] }),
  upstream: env.addr('SVC_UPSTREAM_ADDR', { default: '127.0.0.1:50052' }),
  samplers: env.addrs('SVC_SAMPLER_ADDR', { default: ['127.0.0.1:50053'] }),
  key: env.string('SVC_SIGNING_KEY', { secret: true, optional: true }),
  debug: env.bool('SVC_DEBUG'),
};

describe('readConfig', () => {
  it('applies defaults and parses values with their types', () => {
    expect(readConfig(schema, {})).toEqual({
      port: 50051,
      ratio: 0.5,
      mode: 'cpu',
      tags: [],
      upstream: '127.0.0.1:50052',
      samplers: ['127.0.0.1:50053'],
      key: undefined,
      debug: false,
    });
    const c = readConfig(schema, {
      SVC_PORT: '0',
      SVC_RATIO: '0.25',
      SVC_MODE: 'cuda',
      SVC_TAGS: 'a, b,,c',
      SVC_UPSTREAM_ADDR: 'dns:///bounds-headless:50054',
      SVC_SAMPLER_ADDR: '10.0.0.1:50052,10.0.0.2:50052',
      SVC_SIGNING_KEY: 's3cr3t',
      SVC_DEBUG: 'true',
    });
    expect(c).toMatchObject({ port: 0, ratio: 0.25, mode: 'cuda', tags: ['a', 'b', 'c'], debug: true, key: 's3cr3t' });
    expect(c.samplers).toEqual(['10.0.0.1:50052', '10.0.0.2:50052']);
  });

  it('reports every bad variable by name, in one error', () => {
    let err: unknown;
    try {
      readConfig(schema, { SVC_PORT: '70000', SVC_RATIO: 'half', SVC_MODE: 'tpu', SVC_UPSTREAM_ADDR: 'nohost', SVC_DEBUG: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.env)).toEqual(['SVC_PORT', 'SVC_RATIO', 'SVC_MODE', 'SVC_UPSTREAM_ADDR', 'SVC_DEBUG']);
    expect((err as Error).message).toContain('SVC_PORT: must be <= 65535, got 70000');
    expect((err as Error).message).toContain('SVC_RATIO: must be a finite number, got "half"');
  });

  it('a required variable without a default is named when missing; an int rejects 1.5', () => {
    const s = { port: env.int('X_PORT', { min: 0 }), n: env.int('X_N', { default: 1 }) };
    expect(() => readConfig(s, {})).toThrow('X_PORT: is required but not set');
    expect(() => readConfig(s, { X_PORT: '1', X_N: '1.5' })).toThrow('X_N: must be an integer, got "1.5"');
  });

  it('never echoes a secret value, in errors or in the config description', () => {
    const s = { key: env.string('X_API_KEY', { secret: true, pattern: /^k-/ }) };
    expect(() => readConfig(s, { X_API_KEY: 'hunter2' })).toThrow(/X_API_KEY: must match .*, got \[REDACTED\]/);
    const c = readConfig(s, { X_API_KEY: 'k-hunter2' });
    expect(describeConfig(s, c)).toEqual({ X_API_KEY: '[REDACTED]' });
  });

  it('parseAddr accepts host:port, [v6]:port, dns:///host:port and rejects the rest', () => {
    for (const ok of ['localhost:1', '10.1.2.3:65535', '[::1]:50051', 'dns:///svc.ns.svc.cluster.local:50052']) expect(parseAddr(ok)).toBe(ok);
    for (const bad of ['localhost', ':50051', 'host:0', 'host:70000', 'http://host:1']) expect(() => parseAddr(bad)).toThrow();
  });
});

describe('loadConfig', () => {
  it('on a bad variable: logs a message naming it and exits non-zero (78)', () => {
    const { log, lines } = captureLogger();
    const exit = jest.fn();
    expect(() => loadConfig(serverConfigSchema('certifier'), { env: { CERTIFIER_PORT: 'eighty' }, exit, log })).toThrow(ConfigError);
    expect(exit).toHaveBeenCalledWith(EXIT_CONFIG);
    expect(EXIT_CONFIG).not.toBe(0);
    const line = lines.find((l) => l['level'] === 'error')!;
    expect(line['msg']).toContain('CERTIFIER_PORT: must be an integer, got "eighty"');
  });

  it('serverConfigSchema names <SERVICE>_* variables with defaults', () => {
    const { log } = captureLogger();
    const c = loadConfig(serverConfigSchema('bounds-service', { port: 50054 }), { env: { BOUNDS_SERVICE_HOST: '0.0.0.0' }, log });
    expect(c).toEqual({
      host: '0.0.0.0',
      port: 50054,
      maxReceiveMessageBytes: 16 * 1024 * 1024,
      maxSendMessageBytes: 16 * 1024 * 1024,
      shutdownGraceMs: 10_000,
    });
  });

  it('startService with an invalid environment exits 78 before binding anything', async () => {
    const { log, lines } = captureLogger();
    const exit = jest.fn();
    const saved = process.env['CFGTEST_PORT'];
    process.env['CFGTEST_PORT'] = '-1';
    try {
      await expect(
        startService({
          name: 'cfgtest',
          services: [{ definition: TestServiceDefinition, implementation: testImplementation() }],
          log,
          exit,
          signals: [],
        }),
      ).rejects.toThrow(ConfigError);
    } finally {
      if (saved === undefined) delete process.env['CFGTEST_PORT'];
      else process.env['CFGTEST_PORT'] = saved;
    }
    expect(exit).toHaveBeenCalledWith(78);
    expect(lines.some((l) => String(l['msg']).includes('CFGTEST_PORT: must be >= 0, got -1'))).toBe(true);
  });
});

describe('a real process', () => {
  const script = path.join(__dirname, 'testing', 'config-exit-main.ts');
  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--import', 'tsx', script], {
      env: { PATH: process.env['PATH'], LOG_LEVEL: 'info', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('exits 78 with a message naming the bad variable', () => {
    const r = run({ EXITTEST_PORT: 'abc', EXITTEST_SHUTDOWN_GRACE_MS: '-5' });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('EXITTEST_PORT: must be an integer, got \\"abc\\"');
    expect(r.stderr).toContain('EXITTEST_SHUTDOWN_GRACE_MS: must be >= 0, got -5');
    expect(r.stdout).not.toContain('config ok');
  });

  it('carries on with a valid environment', () => {
    const r = run({ EXITTEST_PORT: '0' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('config ok');
  });
});

