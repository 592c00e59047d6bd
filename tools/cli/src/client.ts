// What the commands that talk to the services share: default addresses (those of `glcert up`),
// clients that say how to start the stack when nothing answers, and the threat model as the
// proto message.

import * as grpc from '@grpc/grpc-js';
import { CertificationServiceClient, VerificationServiceClient } from '@glcert/contracts';
import { checkHealth, createClient, createHealthClient, decodeStatus, grpcCode } from '@glcert/runtime';

/** A unary call as a promise: the runtime's one call helper. */
export { unaryCall as unary } from '@glcert/runtime';

import { DEFAULT_BASE_PORT, DEFAULT_HOST } from './stack';

export const DEFAULT_CERTIFIER_ADDR = `${DEFAULT_HOST}:${DEFAULT_BASE_PORT}`;
export const DEFAULT_VERIFIER_ADDR = `${DEFAULT_HOST}:${DEFAULT_BASE_PORT + 4}`;
export const DEFAULT_SAMPLER_ADDR = `${DEFAULT_HOST}:${DEFAULT_BASE_PORT + 1}`;

/** A connection problem the user can fix (printed as one message, exit 1). */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** The proto ThreatModel of a (validated) spec: one definition, shared with the certifier's presets. */
export { threatModelMessage } from '@glcert/certificate';

/** `glcert up` hint for an address nobody answers on. */
export function startHint(what: string, addr: string, flag: string, defaultAddr: string): string {
  const hint =
    addr === defaultAddr
      ? `start the services with \`npx glcert up\` (in another terminal), or pass ${flag} ADDR`
      : `check ${flag}, or start the services with \`npx glcert up --base-port PORT\``;
  return `no ${what} answers at ${addr}: ${hint}`;
}

/** Waits (briefly) for the health of `addr` to be SERVING; ConnectError with the start hint otherwise. */
export async function ensureServing(what: string, addr: string, flag: string, defaultAddr: string, timeoutMs = 3_000): Promise<void> {
  const health = createHealthClient(addr, { defaultDeadlineMs: timeoutMs });
  try {
    const status = await checkHealth(health, '', timeoutMs);
    if (status !== 'SERVING') throw new ConnectError(`the ${what} at ${addr} is ${status} (still starting, or its dependencies are down)`);
  } catch (err) {
    if (err instanceof ConnectError) throw err;
    const code = grpcCode(err);
    if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) throw new ConnectError(startHint(what, addr, flag, defaultAddr));
    throw err;
  } finally {
    health.close();
  }
}

export function certifierClient(addr: string): CertificationServiceClient {
  return createClient(CertificationServiceClient, addr, { defaultDeadlineMs: 600_000 });
}

export function verifierClient(addr: string): VerificationServiceClient {
  return createClient(VerificationServiceClient, addr, { defaultDeadlineMs: 600_000 });
}

/** One line for a failed call: code name, message, and the field violations of its status details. */
export function describeCallError(err: unknown): string {
  const e = err as grpc.ServiceError;
  if (typeof e?.code !== 'number') return (err as Error)?.message ?? String(err);
  const rich = decodeStatus(e);
  const fields = rich?.badRequest?.fieldViolations.map((v) => `${v.field}: ${v.description}`) ?? [];
  const name = grpc.status[e.code] ?? String(e.code);
  return `${name}: ${e.details || e.message}${fields.length > 0 && !fields.every((f) => (e.details ?? '').includes(f)) ? ` (${fields.join('; ')})` : ''}`;
}
