// The certifier server: CertificationService (Certify, StreamingCertify, GetPublicKeys) on
// the runtime's bootstrap (limits, health, graceful shutdown). Health is SERVING while at
// least one sampler and the bound service answer SERVING.
import { EventEmitter } from 'node:events';
import { BoundServiceClient, CertificationServiceService, type CertificationServiceServer, type certifyV1 } from '@glcert/contracts';
import { DEFAULT_ALPHA, DEFAULT_N, DEFAULT_N0, KeyRing, presetMessages, type SigningKey } from '@glcert/certificate';
import {
  bidiHandler,
  createClient,
  createLogger,
  createWatchHealthClient,
  startService,
  unaryHandler,
  UnavailableError,
  type HealthClient,
  type RunningService,
  type ServiceHandle,
  type ServiceOptions,
} from '@glcert/runtime';
import { Admission } from './admission';
import { certifyHandler } from './certify-handler';
import { defaultCertifierConfig, type CertifierConfig } from './config';
import type { CertifierCore } from './core';
import { RequestCache } from './request-cache';
import { SamplerPool, type EndpointStats } from '@glcert/sampling';
import { streamingCertifyHandler } from './streaming';
import { shared } from '@glcert/runtime';
import { loadSigningKey } from './signing-key';
import { followDependencies } from './readiness';

export interface StartCertifierOptions extends ServiceOptions {
  /** Use this key instead of CERTIFIER_SIGNING_KEY_FILE (tests, embedded runs). Without it a key problem throws ConfigError. */
  signingKey?: SigningKey;
}

export interface CertifierService extends ServiceHandle {
  /** Resolves the first time health turns SERVING (a sampler and the bound service answered SERVING). */
  readonly ready: Promise<void>;
  /** The current signing key's public half plus the retired keys: what GetPublicKeys returns. */
  readonly publicKeys: KeyRing;
  /** Key id certificates are signed with now. */
  readonly keyId: string;
  readonly config: Readonly<CertifierConfig>;
  /** Certifications in progress (Certify calls + stream items). */
  inflight(): number;
  /** Per SAMPLER_ADDRS entry: calls, retryable failures, calls in flight. */
  samplerStats(): EndpointStats[];
}

export async function startCertifierService(config: Partial<CertifierConfig> = {}, options: StartCertifierOptions = {}): Promise<CertifierService> {
  const cfg: CertifierConfig = { ...defaultCertifierConfig(), ...config };
  const log = options.logger ?? createLogger('certifier');

  let key = options.signingKey;
  if (!key) {
    const loaded = loadSigningKey(cfg);
    key = loaded.key;
    log.info(loaded.created ? 'signing key generated' : 'signing key loaded', { key_id: key.publicKey.keyId, file: cfg.signingKeyFile });
  }
  const publicKeys = new KeyRing();
  if (cfg.retiredKeysDir) publicKeys.addDirectory(cfg.retiredKeysDir);
  publicKeys.add(key.publicKey);
  const current = key.publicKey.keyId;

  const clientLimits = { maxReceiveMessageBytes: cfg.maxReceiveMessageBytes, maxSendMessageBytes: cfg.maxSendMessageBytes };
  const pool = new SamplerPool({
    addrs: cfg.samplerAddrs,
    concurrency: cfg.samplerConcurrency,
    retries: cfg.chunkRetries,
    backoffMs: cfg.retryBackoffMs,
    defaultDeadlineMs: cfg.chunkTimeoutMs,
    ...clientLimits,
    log,
  });
  const bounds = createClient(BoundServiceClient, cfg.boundsAddr, {
    ...clientLimits,
    defaultDeadlineMs: cfg.boundsTimeoutMs,
    retryUnavailable: [{ service: 'glcert.bounds.v1.BoundService', method: 'GetThreshold' }],
  });
  const samplerHealth: HealthClient[] = cfg.samplerAddrs.map((addr) => createWatchHealthClient(addr));
  const boundsHealth = createWatchHealthClient(cfg.boundsAddr);

  const closingController = new AbortController();
  shared(closingController.signal);
  /** Aborted when draining starts or the clients close: readiness is no longer followed. */
  const following = new AbortController();
  let draining = false;
  const core: CertifierCore = {
    cfg,
    log,
    pool,
    bounds,
    key,
    admission: new Admission(cfg.maxInflight),
    cache: new RequestCache<certifyV1.CertifyResponse>(cfg.requestCacheSize),
    closing: closingController.signal,
    draining: () => draining,
    streams: new Set(),
  };

  const publicKeyMessages = (): certifyV1.GetPublicKeysResponse => ({
    // the current key first, then the retired ones
    keys: [publicKeys.get(current)!, ...publicKeys.list().filter((k) => k.keyId !== current)].map((k) => ({
      keyId: k.keyId,
      algorithm: k.algorithm,
      publicKeyDer: k.der,
      publicKeyPem: k.pem,
    })),
  });

  const implementation: CertificationServiceServer = {
    certify: unaryHandler(certifyHandler(core), { log }),
    streamingCertify: bidiHandler(streamingCertifyHandler(core), { log }),
    getPublicKeys: unaryHandler(() => publicKeyMessages(), { log }),
    listPresets: unaryHandler(
      (): certifyV1.ListPresetsResponse => ({
        presets: presetMessages(),
        defaultN0: BigInt(DEFAULT_N0),
        defaultN: BigInt(DEFAULT_N),
        defaultAlpha: DEFAULT_ALPHA,
      }),
      { log },
    ),
  };

  const closeClients = (): void => {
    following.abort();
    pool.close();
    bounds.close();
    for (const h of [...samplerHealth, boundsHealth]) h.close();
  };

  // signals reach the runtime through this relay, so that streams start draining first
  const relay = new EventEmitter();
  const signals = options.signals ?? [];
  const signalTarget = options.signalTarget ?? process;
  let drainTimer: NodeJS.Timeout | undefined;
  const beginDrain = (): void => {
    if (draining) return;
    draining = true;
    following.abort();
    const drainMs = Math.floor(cfg.shutdownGraceMs * 0.8);
    log.info('draining', { streams: core.streams.size, inflight: core.admission.inflight, drain_ms: drainMs });
    for (const s of [...core.streams]) s.drain();
    drainTimer = setTimeout(() => closingController.abort(new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' })), drainMs);
    drainTimer.unref();
  };

  let running: RunningService;
  try {
    running = await startService({
      name: 'certifier',
      services: [{ definition: CertificationServiceService, implementation }],
      config: cfg,
      log,
      signals,
      signalTarget: relay,
      exit: options.exit,
      onShutdown: () => {
        clearTimeout(drainTimer);
        if (!closingController.signal.aborted) closingController.abort(new UnavailableError('server shutting down', { reason: 'SHUTTING_DOWN' }));
        closeClients();
      },
    });
  } catch (err) {
    closeClients();
    throw err;
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    beginDrain();
    relay.emit(signal, signal);
  };
  const listeners = signals.map((s) => {
    const l = (): void => onSignal(s);
    signalTarget.on(s, l);
    return [s, l] as const;
  });
  const removeSignals = (): void => {
    for (const [s, l] of listeners) signalTarget.removeListener(s, l);
  };

  // readiness: some sampler and the bound service SERVING (followed until draining starts)
  const ready = followDependencies({ samplers: samplerHealth, bounds: boundsHealth }, running, following.signal, log);

  let closing: Promise<void> | undefined;
  return {
    port: running.port,
    address: running.address,
    ready,
    publicKeys,
    keyId: current,
    config: cfg,
    inflight: () => core.admission.inflight,
    samplerStats: () => pool.stats(),
    close: () => {
      closing ??= (async () => {
        beginDrain();
        try {
          await running.shutdown('close');
        } finally {
          removeSignals();
        }
      })();
      return closing;
    },
  };
}
