// CertificationService.StreamingCertify (bidi).
//
// The first message must be the config (else FAILED_PRECONDITION naming `config`, and the
// stream ends); its model and threshold are looked up once, before any item is read. Then
// every message is answered by exactly one response carrying its id: a certificate with an OK
// status, or an in-band error status (a bad item does not end the stream).
//
// Flow control, both ways:
// - reading: at most CERTIFIER_STREAM_CONCURRENCY messages are in progress (read and not yet
//   answered); while that window is full the call is paused, so the client's sends block on
//   HTTP/2 flow control instead of piling up here;
// - writing: a response is written with `send`, which waits for 'drain' when the client reads
//   slowly; the item keeps its window place until then, so a slow reader pauses the reading too.
// Admission: an item needs one of the service-wide CERTIFIER_MAX_INFLIGHT slots. When they are
// all taken and this stream holds one, the item waits for one of the stream's own items to
// finish (backpressure); when the stream holds none, the item is answered RESOURCE_EXHAUSTED
// in-band at once.
// Cancellation aborts every item (their sampler calls are cancelled). Shutdown: reading stops;
// items in progress finish, or get UNAVAILABLE in-band when the drain period ends; then the
// stream ends with UNAVAILABLE (messages the server never read were not processed).
import { context, type Span } from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';
import type { Bound, certifyV1, inferenceV1 } from '@glcert/contracts';
import {
  anySignal,
  CancelledError,
  clip,
  FailedPreconditionError,
  identifierViolation,
  InvalidArgumentError,
  okRpcStatus,
  preview,
  rejectViolations,
  ResourceExhaustedError,
  send,
  toRpcStatus,
  UnavailableError,
  Violations,
  type CallContext,
} from '@glcert/runtime';
import { getModel, certifyInput, inSpan, lookupBound, type CertifierCore } from './core';
import { deriveItemSeed, drawSeed } from './seeds';
import { checkInput, checkSeed, checkSettings, settingsIdentifierViolations, type CertifySettings } from './validate';

type Call = grpc.ServerDuplexStream<certifyV1.StreamingCertifyRequest, certifyV1.StreamingCertifyResponse>;

interface StreamSetup {
  settings: CertifySettings;
  meta: inferenceV1.ModelMetadata;
  bound: Promise<Bound>;
  baseSeed: bigint;
  baseSeedDrawn: boolean;
}

export function streamingCertifyHandler(core: CertifierCore) {
  return (call: Call, ctx: CallContext): Promise<void> => {
    if (core.draining()) return Promise.reject(new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' }));
    return inSpan('certifier.streaming_certify', {}, (streamSpan) => runStream(core, call, ctx, streamSpan));
  };
}

function runStream(core: CertifierCore, call: Call, ctx: CallContext, streamSpan: Span): Promise<void> {
  const window = core.cfg.streamConcurrency;
  const signal = anySignal([ctx.signal, core.closing]);
  const streamContext = context.active();
  const log = ctx.log;
  const streamDeadline = (): number => ctx.deadline;

  return new Promise<void>((resolve, reject) => {
    let phase: 'config' | 'preparing' | 'items' = 'config';
    let setup: StreamSetup | undefined;
    /** Messages read and not yet answered. */
    let open = 0;
    /** This stream's items holding an admission slot. */
    let holding = 0;
    let ended = false;
    let draining = false;
    let finished = false;
    let items = 0;
    let failed = 0;
    const idsInProgress = new Set<string>();
    let ownReleaseWaiters: Array<() => void> = [];

    const session = {
      drain(): void {
        if (finished || draining) return;
        draining = true;
        flow();
        maybeFinish();
      },
    };
    core.streams.add(session);

    const cleanup = (): void => {
      core.streams.delete(session);
      call.removeListener('data', onData);
      call.removeListener('end', onEnd);
      call.removeListener('error', onError);
      ctx.signal.removeEventListener('abort', onAbort);
      for (const w of ownReleaseWaiters) w();
      ownReleaseWaiters = [];
      streamSpan.setAttributes({ 'glcert.items': items, 'glcert.items_failed': failed });
    };
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      cleanup();
      if (err === undefined) resolve();
      else reject(err);
    };
    const maybeFinish = (): void => {
      if (finished || open > 0 || phase === 'preparing') return;
      if (ended) finish();
      else if (draining) {
        finish(new UnavailableError('server shutting down: messages after the last answered item were not processed; resend them', { reason: 'SHUTTING_DOWN' }));
      }
    };
    /** Reading runs only while the config is in and the window has room. */
    const flow = (): void => {
      if (finished) return;
      if (draining || phase !== 'items' || open >= window) call.pause();
      else call.resume();
    };

    function onAbort(): void {
      // the client cancelled or the deadline passed: every item's work is aborted through
      // `signal` and nothing more is written. (At the end of a shutdown's drain period the
      // items themselves answer UNAVAILABLE in-band, then the stream ends.)
      finish(ctx.signal.reason ?? new CancelledError());
    }
    function onError(err: unknown): void {
      log.debug('stream error', { err });
    }
    function onEnd(): void {
      ended = true;
      maybeFinish();
    }

    function onData(msg: certifyV1.StreamingCertifyRequest): void {
      if (finished) return;
      if (phase === 'config') {
        if (msg.request?.$case !== 'config') {
          finish(
            new FailedPreconditionError('config: the first message of a StreamingCertify stream must be a config (model, threat_model, n0, n, alpha)', {
              reason: 'CONFIG_REQUIRED',
            }),
          );
          return;
        }
        phase = 'preparing';
        call.pause();
        const config = msg.request.config;
        context.with(streamContext, () => prepare(config)).then(
          (s) => {
            setup = s;
            phase = 'items';
            flow();
            maybeFinish();
          },
          (err: unknown) => finish(err),
        );
        return;
      }
      open++;
      // "read" is what shutdown promises to answer: at debug level, say which message was read
      if (log.isEnabled('debug')) log.debug('stream message read', { item_id: msg.request?.$case === 'item' ? clip(msg.request.item.id, 300) : '' });
      flow();
      void answer(msg);
    }

    async function prepare(config: certifyV1.StreamingCertifyConfig): Promise<StreamSetup> {
      rejectViolations(settingsIdentifierViolations(config, 'config'));
      const v = new Violations();
      const settings = checkSettings(config, { maxN: core.cfg.maxN }, v, 'config');
      checkSeed(config.baseSeed, 'config.base_seed', v);
      v.throwIfAny();
      streamSpan.setAttributes({
        'glcert.model': settings!.model,
        'glcert.transform': settings!.threatModel.spec.key,
        'glcert.n0': settings!.n0,
        'glcert.n': settings!.n,
        'glcert.alpha': settings!.alpha,
      });
      const bound = lookupBound(core, settings!, streamDeadline, signal);
      bound.catch(() => undefined);
      const meta = await getModel(core, settings!.model, streamDeadline, signal);
      // the threshold is the same for every item: a failure here ends the stream before any item is read
      await bound;
      const baseSeedDrawn = config.baseSeed === undefined;
      return { settings: settings!, meta, bound, baseSeed: config.baseSeed ?? drawSeed(), baseSeedDrawn };
    }

    /** One message -> one response; keeps its window place until the response is written. */
    async function answer(msg: certifyV1.StreamingCertifyRequest): Promise<void> {
      const item = msg.request?.$case === 'item' ? msg.request.item : undefined;
      // the response echoes the id only when it is a valid one (a 1 MB id is not sent back)
      const id = item && identifierViolation(item.id, 'item.id', 'id') === undefined ? item.id : '';
      let response: certifyV1.StreamingCertifyResponse;
      try {
        if (msg.request?.$case === 'config') throw new InvalidArgumentError('config', 'only the first message of a stream may be a config');
        if (!item) throw new InvalidArgumentError('item', 'is required (a message carries a config or an item)');
        items++;
        const result = await certifyItem(item);
        response = {
          id,
          status: okRpcStatus(),
          certificate: result.certificate,
          label: item.label,
          minSamplesToCertifyCount: result.minSamplesToCertifyCount,
          notes: result.notes,
        };
      } catch (err) {
        failed++;
        response = { id, status: toRpcStatus(err, { log, method: ctx.method }), label: item?.label, notes: [] };
      }
      try {
        if (!finished) await send(call, response);
      } catch {
        // the call is gone (cancelled): the abort handler has settled the stream
      } finally {
        open--;
        flow();
        maybeFinish();
      }
    }

    async function certifyItem(item: certifyV1.CertifyItem) {
      const s = setup!;
      const v = new Violations();
      const idViolation = identifierViolation(item.id, 'item.id', 'id');
      if (item.id === '') v.add('item.id', 'is required (it correlates the response)');
      else if (idViolation) v.list.push(idViolation);
      else if (idsInProgress.has(item.id)) v.add('item.id', `${preview(item.id)} is already in progress in this stream (ids must be unique)`);
      checkSeed(item.seed, 'item.seed', v);
      checkInput(item.input, v, 'item');
      v.throwIfAny();
      if (draining) throw new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' });

      idsInProgress.add(item.id);
      try {
        const notes: string[] = [];
        let seed = item.seed;
        if (seed === undefined) {
          seed = deriveItemSeed(s.baseSeed, item.id);
          notes.push(
            s.baseSeedDrawn
              ? `seed derived from item id and base seed ${s.baseSeed} (drawn by the server; pass it as base_seed to reproduce)`
              : `seed derived from item id and base_seed ${s.baseSeed}`,
          );
        }
        const release = await admit();
        try {
          // each item is its own trace, linked to the stream's span; its downstream calls run in it
          return await inSpan(
            'certifier.certify_item',
            { root: true, links: [{ context: streamSpan.spanContext() }], attributes: { 'glcert.item_id': item.id } },
            (span) =>
              certifyInput(
                core,
                { requestId: item.id, settings: s.settings, meta: s.meta, input: item.input, inputPrefix: 'item', seed, notes, bound: s.bound, deadline: streamDeadline, signal },
                span,
              ),
          );
        } finally {
          release();
        }
      } finally {
        idsInProgress.delete(item.id);
      }
    }

    /** An admission slot: at once, or after one of this stream's own items (see the header). */
    async function admit(): Promise<() => void> {
      for (;;) {
        if (finished || signal.aborted) throw signal.reason ?? new CancelledError();
        if (draining) throw new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' });
        const release = core.admission.tryAcquire();
        if (release) {
          holding++;
          return () => {
            release();
            holding--;
            const waiters = ownReleaseWaiters;
            ownReleaseWaiters = [];
            for (const w of waiters) w();
          };
        }
        if (holding === 0) {
          throw new ResourceExhaustedError(
            `certifier busy: ${core.admission.limit} certifications in progress (CERTIFIER_MAX_INFLIGHT); resend this item later`,
            { reason: 'CERTIFIER_OVERLOADED', metadata: { max_inflight: String(core.admission.limit) } },
          );
        }
        await new Promise<void>((r) => ownReleaseWaiters.push(r));
      }
    }

    call.on('data', onData);
    call.on('end', onEnd);
    call.on('error', onError);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (core.draining()) session.drain();
  });
}
