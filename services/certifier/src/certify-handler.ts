// CertificationService.Certify: validate, request_id idempotency, admission, certify, sign.
import * as grpc from '@grpc/grpc-js';
import type { certifyV1 } from '@glcert/contracts';
import {
  anySignal,
  GlcertError,
  identifierViolation,
  preview,
  rejectViolations,
  ResourceExhaustedError,
  SharedWork,
  UnavailableError,
  Violations,
  type CallContext,
} from '@glcert/runtime';
import { certifyInput, getModel, inSpan, lookupBound, requestFingerprint, type CertifierCore, type DeadlineSource } from './core';
import { drawSeed } from './seeds';
import { checkInput, checkSeed, checkSettings, settingsIdentifierViolations } from './validate';

export function certifyHandler(core: CertifierCore) {
  return async (
    req: certifyV1.CertifyRequest,
    _call: grpc.ServerUnaryCall<certifyV1.CertifyRequest, certifyV1.CertifyResponse>,
    ctx: CallContext,
  ): Promise<certifyV1.CertifyResponse> => {
    if (core.draining()) throw new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' });

    // identifiers first: a 1 MB name is refused here, before it is parsed further or sent anywhere
    rejectViolations([identifierViolation(req.requestId, 'request_id', 'id'), ...settingsIdentifierViolations(req)]);
    const v = new Violations();
    const settings = checkSettings(req, { maxN: core.cfg.maxN }, v);
    checkSeed(req.seed, 'seed', v);
    checkInput(req.input, v);
    v.throwIfAny();

    // request_id: the same request gets the same certificate; another request under the id is refused
    let fingerprint: string | undefined;
    if (req.requestId !== '') {
      fingerprint = requestFingerprint(req);
      const found = core.cache.lookup(req.requestId, fingerprint);
      if (found.kind === 'hit') return found.work ? found.work.join(ctx.signal) : found.result;
      if (found.kind === 'conflict') {
        throw new GlcertError(
          grpc.status.ALREADY_EXISTS,
          `request_id: ${preview(req.requestId)} was already used for a different request; use a new request_id`,
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
    const certifyWith = (ownSignal: AbortSignal, deadline: DeadlineSource): Promise<certifyV1.CertifyResponse> => {
      const signal = anySignal([ownSignal, core.closing]);
      return inSpan('certifier.certify', { attributes: { 'glcert.request_id': req.requestId } }, async (span) => {
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
        const bound = lookupBound(core, s, deadline, scoped);
        bound.catch(() => undefined); // awaited in runCertification; a failure before then is not unhandled
        try {
          const meta = await getModel(core, s.model, deadline, scoped);
          const result = await certifyInput(
            core,
            { requestId: req.requestId, settings: s, meta, input: req.input, inputPrefix: '', seed, notes, bound, deadline, signal: scoped },
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
    };

    if (fingerprint === undefined) return certifyWith(ctx.signal, () => ctx.deadline);
    // Under a request_id the work is shared with every duplicate that joins while it runs: it
    // belongs to no caller, so it carries no caller's deadline (only the server's per-call caps)
    // and stops when the last caller waiting has gone; each caller times out on its own.
    const work = new SharedWork((signal) => certifyWith(signal, () => Infinity));
    core.cache.store(req.requestId, fingerprint, work);
    return work.join(ctx.signal);
  };
}
