import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@glcert/telemetry';
import { propagate } from '../deadline';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  ResourceExhaustedError,
  UnavailableError,
} from '../errors';
import { modelNotFoundError } from '../reasons';
import { bidiHandler, send, serverStreamHandler, unaryHandler } from '../handlers';
import { call, type EchoRequest, type EchoResponse, type TestClient, type Tick } from './test-service';

export const RELAY_MARGIN_MS = 100;

/** What a test can observe of the handlers. */
export interface Probe {
  started: string[];
  finished: string[];
  aborted: string[];
  deadlines: number[];
}

function fail(kind: string | undefined, text = ''): void {
  switch (kind) {
    case undefined:
      return;
    case 'echo-notfound':
      // a careless handler echoing caller input at length: the mapper must keep the status small
      throw modelNotFoundError(`model '${text}' not found`, text);
    case 'echo-invalid':
      throw InvalidArgumentError.of(
        Array.from({ length: 40 }, (_, i) => ({ field: `items[${i}].${text}`, description: `unknown name '${text}'` })),
      );
    case 'invalid':
      throw new InvalidArgumentError('threat_model.contrast.min', 'must be > 0, got -1');
    case 'notfound':
      throw modelNotFoundError("model 'resnet-9000' not found", 'resnet-9000');
    case 'exhausted':
      throw new ResourceExhaustedError('queue full', { reason: 'QUEUE_FULL', metadata: { queue_length: '64' } });
    case 'precondition':
      throw new FailedPreconditionError('bound table not built');
    case 'unavailable':
      throw new UnavailableError('model not loaded yet', { reason: 'NOT_READY' });
    default:
      throw new Error(`database password is hunter2 (${kind})`);
  }
}

const finite = (ms: number): number | undefined => (Number.isFinite(ms) ? ms : undefined);

export function testImplementation(options: { downstream?: TestClient; log?: Logger; probe?: Probe } = {}) {
  const probe = options.probe ?? { started: [], finished: [], aborted: [], deadlines: [] };
  const log = options.log;
  return {
    echo: unaryHandler<EchoRequest, EchoResponse>(
      async (req, _call, ctx) => {
        probe.started.push(req.text);
        probe.deadlines.push(ctx.deadline);
        fail(req.fail, req.text);
        if (req.delayMs) {
          await sleep(req.delayMs, undefined, { signal: ctx.signal }).catch((err: unknown) => {
            probe.aborted.push(req.text);
            throw err;
          });
        }
        probe.finished.push(req.text);
        return { text: req.text, deadline: finite(ctx.deadline) };
      },
      { log },
    ),
    relay: unaryHandler<EchoRequest, EchoResponse>(
      async (req, serverCall, ctx) => {
        if (!options.downstream) throw new Error('no downstream');
        probe.deadlines.push(ctx.deadline);
        // a margin wider than the default 5 ms: on this shared 2-core box one loopback hop in the
        // same event loop takes up to ~20 ms, and each hop re-anchors the relative grpc-timeout
        const res = await call(options.downstream, 'echo', req, propagate(serverCall, { marginMs: RELAY_MARGIN_MS }));
        return { text: res.text, deadline: finite(ctx.deadline), downstreamDeadline: res.deadline };
      },
      { log },
    ),
    ticks: serverStreamHandler<{ everyMs: number; count?: number }, Tick>(
      async (req, stream, ctx) => {
        probe.started.push('ticks');
        try {
          for (let n = 0; req.count === undefined || n < req.count; n++) {
            ctx.throwIfDone();
            await send(stream, { n });
            await sleep(req.everyMs, undefined, { signal: ctx.signal });
          }
          probe.finished.push('ticks');
        } catch (err) {
          if (ctx.signal.aborted) probe.aborted.push('ticks');
          throw err;
        }
      },
      { log },
    ),
    chat: bidiHandler<EchoRequest, EchoResponse>(
      async (stream) => {
        for await (const m of stream as AsyncIterable<EchoRequest>) {
          fail(m.fail);
          await send(stream, { text: m.text.toUpperCase() });
        }
      },
      { log },
    ),
    blob: unaryHandler<Buffer, Buffer>((req) => Buffer.from(String(req.length)), { log }),
  } satisfies grpc.UntypedServiceImplementation;
}
