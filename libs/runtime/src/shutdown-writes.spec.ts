// The shutdown grace period ends while a stream's handler is finishing (its last message is
// still being written): the forced UNAVAILABLE must go out after that message, not ahead of it.
// (Ahead of it, grpc-js failed the late write with INTERNAL and reset the stream: the client
// saw CANCELLED and lost the message. Seen with the certifier under CPU starvation, where the
// drain timer and the grace timer fire in the same turn.)
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '@glcert/telemetry';
import { createClient } from './client';
import { toServiceError, UnavailableError } from './errors';
import { startService, type RunningService } from './server';
import { TestClientCtor, TestServiceDefinition, type TestClient } from './testing/test-service';

describe('shutdown grace period vs a stream finishing', () => {
  let svc: RunningService;
  let client: TestClient;
  afterEach(async () => {
    client?.close();
    await svc?.shutdown('test end');
  });

  it('the forced status waits for the writes in flight: the client gets the last messages, then UNAVAILABLE', async () => {
    let finishSoon: (() => void) | undefined;
    svc = await startService({
      name: 'test',
      log: createLogger('test', { level: 'silent' }),
      signals: [],
      config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20, shutdownGraceMs: 50 },
      services: [
        {
          definition: TestServiceDefinition,
          implementation: {
            chat: (call: grpc.ServerDuplexStream<{ text: string }, { text: string }>) => {
              call.on('data', () => {
                // the handler's end, due just before the grace period's: its last messages, then its own status
                finishSoon = () =>
                  setTimeout(() => {
                    for (const text of ['a', 'b', 'last']) call.write({ text });
                    call.emit('error', toServiceError(new UnavailableError('draining: stream ended', { reason: 'SHUTTING_DOWN' })));
                  }, 40);
              });
            },
          },
        },
      ],
    });
    svc.ready();
    client = createClient(TestClientCtor, svc.address, { defaultDeadlineMs: 10_000 });
    const received: Array<{ text: string }> = [];
    const status = new Promise<grpc.StatusObject>((resolve) => {
      const call = client.chat();
      call.on('data', (m: { text: string }) => received.push(m));
      call.on('error', () => undefined);
      call.on('status', resolve);
      call.write({ text: 'first' });
    });
    await new Promise((r) => setTimeout(r, 100)); // the handler got the message
    expect(finishSoon).toBeDefined();
    const stopped = svc.shutdown('test');
    // the grace timer (50 ms) is armed after a turn of the event loop
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    finishSoon!();
    // starve the event loop past both timers, so that they fire in the same turn (handler first)
    const until = Date.now() + 150;
    while (Date.now() < until) {
      // busy
    }
    const s = await status;
    await stopped;
    expect(received).toEqual([{ text: 'a' }, { text: 'b' }, { text: 'last' }]);
    expect(s.code).toBe(grpc.status.UNAVAILABLE);
  });
});
