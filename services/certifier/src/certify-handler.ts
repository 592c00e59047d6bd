// CertificationService.Certify: validate, request_id idempotency, admission, certify, sign.
import * as grpc from '@grpc/grpc-js';
import type { certifyV1 } from '@glcert/contracts';
import { GlcertError, ResourceExhaustedError, UnavailableError, type CallContext } from '@glcert/runtime';
import { certifyInput, getModel, inSpan, lookupBound, requestFingerprint, type CertifierCore } from './core';
import { drawSeed } from './seeds';
import { checkSeed, checkSettings, Violations } from './validate';
import { anySignal } from './signals';

const MAX_REQUEST_ID_LENGTH = 256;

export function certifyHandler(core: CertifierCore) {
  return async (
    req: certifyV1.CertifyRequest,
    call: grpc.ServerUnaryCall<certifyV1.CertifyRequest, certifyV1.CertifyResponse>,
    ctx: CallContext,
  ): Promise<certifyV1.CertifyResponse> => {
    if (core.draining()) throw new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' });

    const v = new Violations();
    if (req.requestId.length > MAX_REQUEST_ID_LENGTH) v.add('request_id', `must be at most ${MAX_REQUEST_ID_LENGTH} characters`);
    const settings = checkSettings(req, { maxN: core.cfg.maxN }, v);
    checkSeed(req.seed, 'seed', v);
    if (req.input === undefined) v.add('input', 'is required: an encoded image (PNG, JPEG, WebP) or a float32 CHW tensor');
    else if (req.input.$case === 'image' && req.input.image.length === 0) v.add('image', 'is empty (0 bytes)');
    v.throwIfAny();

    // request_id: the same request gets the same certificate; another request under the id is refused
    let fingerprint: string | undefined;
    if (req.requestId !== '') {
      fingerprint = requestFingerprint(req);
      const found = core.cache.lookup(req.requestId, fingerprint);
      if (found.kind === 'hit') return found.result;
      if (found.kind === 'conflict') {
        throw new GlcertError(
          grpc.status.ALREADY_EXISTS,
          `request_id: '${req.requestId}' was already used for a different request; use a new request_id`,
          { reason: 'REQUEST_ID_REUSED', metadata: { request_id: req.requestId } },
          [{ field: 'request_id', description: 'already used for a different request', reason: 'REQUEST_ID_REUSED' }],
        );
      }
    }

    const release = core.admission.tryAcquire();
    if (!release) {
      throw new ResourceExhaustedError(
        `certifier busy: ${core.admission.limit} certifications in progress (CERTIFIER_MAX_INFLIGHT); retry later`,
        { reason: 'CERTIFIER_OVERLOADED', metadata: { max_inflight: String(core.admission.limit) } },
      );
    }
    const signal = anySignal([ctx.signal, core.closing]);
    const work = inSpan('certifier.certify', { attributes: { 'glcert.request_id': req.requestId } }, async (span) => {
      const s = settings!;
      const notes: string[] = [];
      let seed = req.seed;
      if (seed === undefined) {
        seed = drawSeed();
        notes.push(`seed ${seed} drawn by the server; pass it (and the same request) to reproduce the counts`);
      }
      // the bound lookup overlaps the model lookup and the image decode
      const local = new AbortController();
      const scoped = anySignal([signal, local.signal]);
      const bound = lookupBound(core, s, call, scoped);
      bound.catch(() => undefined); // awaited in runCertification; a failure before then is not unhandled
      try {
        const meta = await getModel(core, s.model, call, scoped);
        const result = await certifyInput(
          core,
          { id: req.requestId, settings: s, meta, input: req.input, inputPrefix: '', seed, notes, bound, call, signal: scoped },
          span,
        );
        return {
          certificate: result.certificate,
          minSamplesToCertifyCount: result.minSamplesToCertifyCount,
          notes: result.notes,
        } satisfies certifyV1.CertifyResponse;
      } catch (err) {
        local.abort(err);
        throw err;
      }
    }).finally(release);
    if (fingerprint !== undefined) core.cache.store(req.requestId, fingerprint, work);
    return work;
  };
}
