import * as grpc from '@grpc/grpc-js';
import {
  BoundServiceClient,
  Outcome,
  VerificationServiceService,
  type Bound,
  type boundsV1,
  type Certificate,
  type Tensor,
  type VerificationServiceServer,
  type inferenceV1,
  type verifyV1,
} from '@glcert/contracts';
import { certificateContent, checkCertificate, KeyRing, openCertificate, parsePublicKey } from '@glcert/certificate';
import { inputSha256, prepareInput } from '@glcert/imaging';
import {
  createClient,
  clip,
  createLogger,
  grpcCode,
  InvalidArgumentError,
  isModelNotFound,
  modelMismatchOf,
  modelNotFoundError,
  propagate,
  rejectViolations,
  startService,
  unaryCall,
  unaryHandler,
  type CallContext,
  type RunningService,
  type ServiceHandle,
  type ServiceOptions,
} from '@glcert/runtime';
import { SamplerPool, splitSpan, type CallScope, type CountBase } from '@glcert/sampling';
import { defaultVerifierConfig, SERVICE_NAME, type VerifierConfig } from './config';
import { certificateViolations, publicKeysViolations } from './limits';
import { replaySamples, type Replay } from './replay';

export type VerifierServiceOptions = ServiceOptions;

export interface VerifierServiceHandle extends ServiceHandle {
  readonly running: RunningService;
}

/**
 * VerificationService. VerifyCertificate is the model-free check (signature, Clopper-Pearson,
 * verdict, the exact threshold of the threat model where known) plus the threshold recomputed by
 * the bounds service; AuditCertificate runs the same model-free check with the verifier's keys,
 * then replays the seeded sampling through a sampler and compares the counts.
 */
export async function startVerifierService(partial: Partial<VerifierConfig> = {}, options: VerifierServiceOptions = {}): Promise<VerifierServiceHandle> {
  const config: VerifierConfig = { ...defaultVerifierConfig(), ...partial };
  const log = options.logger ?? createLogger(SERVICE_NAME);
  const bounds = createClient(BoundServiceClient, config.boundsAddr, { defaultDeadlineMs: 600_000 });
  // the same pool as the certifier's: chunks over every sampler, failover, the per-chunk model check
  const samplers = new SamplerPool({
    addrs: config.samplerAddrs,
    concurrency: config.samplerConcurrency,
    retries: config.chunkRetries,
    backoffMs: config.retryBackoffMs,
    defaultDeadlineMs: 600_000,
    log,
    service: SERVICE_NAME,
  });

  const keyRing = (extra: verifyV1.VerifyCertificateRequest['publicKeys']): KeyRing => {
    // read on every call: a rotated-in key is picked up without a restart
    const ring = new KeyRing();
    ring.addDirectory(config.publicKeysDir);
    extra.forEach((k, i) => {
      try {
        ring.add(k.publicKeyDer.length > 0 ? parsePublicKey(k.publicKeyDer) : parsePublicKey(k.publicKeyPem));
      } catch {
        throw new InvalidArgumentError(`public_keys[${i}]`, 'is not an Ed25519 public key (SPKI DER or PEM)');
      }
    });
    return ring;
  };

  const fetchBound = async (cert: Certificate, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<Bound> => {
    const res = await unaryCall<boundsV1.GetThresholdRequest, boundsV1.GetThresholdResponse>(
      bounds.getThreshold.bind(bounds),
      { threatModel: cert.threatModel, boundSettings: cert.boundSettings, onlyCached: false },
      propagate(call),
    );
    if (!res.bound) throw new Error('bound service answered without a bound');
    return res.bound;
  };

  const verifyCertificate = async (
    req: verifyV1.VerifyCertificateRequest,
    call: grpc.ServerUnaryCall<verifyV1.VerifyCertificateRequest, verifyV1.VerifyCertificateResponse>,
  ): Promise<verifyV1.VerifyCertificateResponse> => {
    if (!req.certificate) throw new InvalidArgumentError('certificate', 'is required');
    // sizes and identifiers first (./limits): nothing long is parsed, quoted or sent on
    rejectViolations([...certificateViolations(req.certificate), ...publicKeysViolations(req.publicKeys)]);
    const keys = keyRing(req.publicKeys);
    // version 2: the bound is looked up for what the envelope's payload says (checkCertificate
    // verifies the signature over those bytes and reports any difference from the outer fields)
    const cert = openCertificate(req.certificate, keys).certificate;
    if (req.certificate.dsseEnvelope) rejectViolations(certificateViolations(cert, 'certificate.dsse_envelope.payload'));
    // the cheap checks first (signature, counts, Clopper-Pearson, verdict, the threat model and
    // its exact threshold): a certificate they find invalid does not get a bound solved for it
    const cheap = checkCertificate(req.certificate, { keys });
    if (!cheap.valid) {
      return {
        valid: false,
        reasons: cheap.reasons,
        recomputedPaLower: cheap.recomputedPaLower ?? 0,
        recomputedThreshold: undefined,
        signatureValid: cheap.signatureValid,
        recomputedOutcome: cheap.recomputedOutcome ?? Outcome.OUTCOME_UNSPECIFIED,
      };
    }
    let bound: Bound | undefined;
    let boundProblem: string | undefined;
    try {
      bound = await fetchBound(cert, call);
    } catch (err) {
      const e = err as grpc.ServiceError;
      boundProblem = `threshold: could not be recomputed for the certificate's threat model (${e.code !== undefined ? grpc.status[e.code] + ': ' : ''}${e.details ?? e.message})`;
    }
    const check = checkCertificate(req.certificate, { keys, threshold: bound ? { value: bound.threshold, method: bound.method } : undefined });
    if (bound && bound.cacheKey !== cert.boundCacheKey) {
      check.reasons.push(`bound_cache_key: certificate says ${cert.boundCacheKey}, the bound for its threat model is ${bound.cacheKey}`);
    }
    if (boundProblem) check.reasons.push(boundProblem);
    return {
      valid: check.reasons.length === 0,
      reasons: check.reasons,
      recomputedPaLower: check.recomputedPaLower ?? 0,
      recomputedThreshold: bound?.threshold,
      signatureValid: check.signatureValid,
      recomputedOutcome: check.recomputedOutcome ?? Outcome.OUTCOME_UNSPECIFIED,
    };
  };

  /** Class counts of samples [from, to) of `stream` under the certificate's seed, in chunks over the pool. */
  const countRange = async (cert: Certificate, image: Tensor, stream: number, from: number, to: number, scope: CallScope): Promise<bigint[]> => {
    const base: CountBase = {
      model: cert.modelName,
      image,
      threatModel: cert.threatModel,
      seed: cert.seed,
      batchSize: 0,
      // the replay must use the model the certificate names, on every chunk
      expectedModelSha256: cert.modelSha256,
    };
    const counts = await samplers.countChunks(base, splitSpan(stream, from, to, config.chunkSize), scope);
    return counts.map(BigInt);
  };

  const auditCertificate = async (
    req: verifyV1.AuditCertificateRequest,
    call: grpc.ServerUnaryCall<verifyV1.AuditCertificateRequest, verifyV1.AuditCertificateResponse>,
    ctx: CallContext,
  ): Promise<verifyV1.AuditCertificateResponse> => {
    if (!req.certificate) throw new InvalidArgumentError('certificate', 'is required');
    rejectViolations(certificateViolations(req.certificate));
    let cert: Certificate;
    try {
      // the replay is of what the envelope's payload says (its signature is checked below)
      cert = certificateContent(req.certificate);
    } catch (e) {
      throw new InvalidArgumentError('certificate.dsse_envelope.payload', (e as Error).message.replace(/^dsse_envelope\.payload: /, ''));
    }
    if (req.certificate.dsseEnvelope) rejectViolations(certificateViolations(cert, 'certificate.dsse_envelope.payload'));
    if (!cert.modelName) throw new InvalidArgumentError('certificate.model_name', 'is required');
    const n0 = Number(cert.n0);
    const n = Number(cert.n);
    if (!(n0 >= 1 && n >= 1) || n0 + n > config.maxAuditSamples) {
      throw new InvalidArgumentError('certificate.n', `n0 + n must be in [2, ${config.maxAuditSamples}] to audit; got n0=${cert.n0}, n=${cert.n}`);
    }
    const notReplayed = (reasons: string[]): verifyV1.AuditCertificateResponse => ({
      consistent: false,
      reasons,
      inputSha256Matches: false, // not checked: nothing was replayed
      recomputedPredictedClass: 0,
      recomputedSelectionClassCounts: [],
      recomputedNa: 0n,
    });
    // The cheap checks first, with the verifier's trusted keys: signature, counts, Clopper-Pearson,
    // verdict, the threat model (unknown names like `constructor`) and its exact threshold. A
    // certificate they reject is not replayed (an all-zero signature used to start a replay of
    // n0 + n samples, up to 1e6).
    const cheap = checkCertificate(req.certificate, { keys: keyRing([]) });
    if (!cheap.valid) {
      log.info('audit done', { consistent: false, model: cert.modelName, replayed: false });
      return notReplayed(cheap.reasons);
    }
    // downstream calls under the caller's deadline, cancelled with it
    const scope: CallScope = { callOptions: () => propagate(call), signal: ctx.signal };
    let meta: inferenceV1.ModelMetadata;
    try {
      meta = await samplers.getModel(cert.modelName, scope);
    } catch (err) {
      // the sampler's refusal is about the certificate's model_name: say so (it would be INTERNAL here)
      if (isModelNotFound(err)) throw modelNotFoundError(`certificate.model_name: no model '${clip(cert.modelName, 64)}' is served to replay the certificate`);
      if (grpcCode(err) === grpc.status.INVALID_ARGUMENT) throw new InvalidArgumentError('certificate.model_name', 'is not a model name the sampler accepts');
      throw err;
    }
    const reasons: string[] = [];
    if (meta.sha256 !== cert.modelSha256) reasons.push(`model_sha256: certificate says ${cert.modelSha256}, the served model is ${meta.sha256}`);
    const prepared = await prepareInput(req.input, meta);
    const { sha256, tensor } = inputSha256(prepared);
    const inputMatches = sha256 === cert.inputSha256;
    if (!inputMatches) reasons.push(`input_sha256: the submitted input hashes to ${sha256}, the certificate says ${cert.inputSha256}`);

    let selection: bigint[];
    let estimation: bigint[];
    let replay: Replay;
    try {
      // exactly the samples used; a sequential certificate's per block and per look (replay.ts)
      replay = await replaySamples(cert, (stream, from, to) => countRange(cert, tensor, stream, from, to, scope));
      ({ selection, estimation } = replay);
    } catch (err) {
      const served = modelMismatchOf(err)?.served;
      const code = grpcCode(err);
      if (served === undefined && code !== undefined && (code === grpc.status.INVALID_ARGUMENT || code === grpc.status.NOT_FOUND || code === grpc.status.FAILED_PRECONDITION)) {
        // the sampler refused the certificate's own sampling request: it cannot be replayed
        const details = clip((err as grpc.ServiceError).details ?? '', 200);
        reasons.push(`replay: the sampler refused the certificate's sampling request (${grpc.status[code]}: ${details}); the counts could not be replayed`);
        log.info('audit done', { consistent: false, model: cert.modelName, replay_refused: grpc.status[code] });
        return { ...notReplayed(reasons), inputSha256Matches: inputMatches };
      }
      if (served === undefined) throw err;
      // the sampler's sidecar serves another model file: no replay is possible, which is a finding
      reasons.push(
        `model: the sampler serves a different model (sha256 ${served.slice(0, 12) || '(none)'}) than the certificate names (${cert.modelSha256.slice(0, 12)}); the counts could not be replayed`,
      );
      log.info('audit done', { consistent: false, model: cert.modelName, model_mismatch: true });
      return {
        consistent: false,
        reasons,
        inputSha256Matches: inputMatches,
        recomputedPredictedClass: 0,
        recomputedSelectionClassCounts: [],
        recomputedNa: 0n,
      };
    }
    let predicted = 0;
    selection.forEach((c, i) => {
      if (c > selection[predicted]!) predicted = i;
    });
    const na = estimation[predicted] ?? 0n;
    if (predicted !== cert.predictedClass) reasons.push(`predicted_class: replay selects ${predicted}, the certificate says ${cert.predictedClass}`);
    if (na !== cert.na) reasons.push(`na: replay counts ${na}, the certificate says ${cert.na}`);
    reasons.push(...replay.pathProblems(predicted));
    if (cert.selectionClassCounts.length > 0 && cert.selectionClassCounts.join(',') !== selection.join(',')) {
      reasons.push(`selection_class_counts: replay gives [${selection.join(', ')}], the certificate says [${cert.selectionClassCounts.join(', ')}]`);
    }
    log.info('audit done', { consistent: reasons.length === 0, model: cert.modelName });
    return {
      consistent: reasons.length === 0,
      reasons,
      inputSha256Matches: inputMatches,
      recomputedPredictedClass: predicted,
      recomputedSelectionClassCounts: selection,
      recomputedNa: na,
    };
  };

  const implementation: VerificationServiceServer = {
    verifyCertificate: unaryHandler(verifyCertificate, { log }),
    auditCertificate: unaryHandler(auditCertificate, { log }),
  };
  const running = await startService({
    name: SERVICE_NAME,
    config,
    services: [{ definition: VerificationServiceService, implementation }],
    log,
    signals: options.signals ?? [],
    signalTarget: options.signalTarget,
    exit: options.exit,
    onShutdown: () => {
      bounds.close();
      samplers.close();
    },
  });
  running.ready();
  return { port: running.port, address: running.address, running, close: () => running.shutdown('close') };
}
