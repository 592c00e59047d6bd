import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '@glcert/telemetry';
import { createClient, createHealthClient, type ClientOptions, type HealthClient } from '../client';
import type { ServerConfig } from '../config';
import { startService, type RunningService } from '../server';
import { testImplementation, type Probe } from './test-implementation';
import { TestClientCtor, TestServiceDefinition, type TestClient } from './test-service';

/** Collects a logger's JSON lines. */
export function captureLogger(name = 'test'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(name, { level: 'debug', sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

export interface Harness {
  svc: RunningService;
  probe: Probe;
  signals: EventEmitter;
  exit: jest.Mock;
  lines: Array<Record<string, unknown>>;
  client(options?: ClientOptions): TestClient;
  health(): HealthClient;
  close(): Promise<void>;
}

/** A TestService on 127.0.0.1:0 with injected signals and exit; `close()` tears everything down. */
export async function startTestService(
  config: Partial<ServerConfig> = {},
  extra: { downstream?: TestClient; serverOptions?: grpc.ServerOptions } = {},
): Promise<Harness> {
  const { log, lines } = captureLogger();
  const probe: Probe = { started: [], finished: [], aborted: [], deadlines: [] };
  const signals = new EventEmitter();
  const exit = jest.fn();
  const svc = await startService({
    name: 'test',
    services: [{ definition: TestServiceDefinition, implementation: testImplementation({ probe, log, downstream: extra.downstream }) }],
    config: {
      host: '127.0.0.1',
      port: 0,
      maxReceiveMessageBytes: 1024 * 1024,
      maxSendMessageBytes: 1024 * 1024,
      shutdownGraceMs: 2_000,
      ...config,
    },
    serverOptions: extra.serverOptions,
    log,
    signalTarget: signals,
    exit,
  });
  const clients: grpc.Client[] = [];
  return {
    svc,
    probe,
    signals,
    exit,
    lines,
    client(options) {
      const c = createClient(TestClientCtor, svc.address, options);
      clients.push(c);
      return c;
    },
    health() {
      const c = createHealthClient(svc.address);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await svc.shutdown('test teardown');
    },
  };
}
