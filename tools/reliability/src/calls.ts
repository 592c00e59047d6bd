// Promise wrappers over the generated grpc-js clients, and the shape of a call's outcome that
// the reliability checks compare: code name, message, ErrorInfo reason and BadRequest fields.
import * as grpc from '@grpc/grpc-js';
import type { certifyV1 } from '@glcert/contracts';
import { decodeRpcStatus, decodeStatus, deadlineIn } from '@glcert/runtime';
import type { googleRpc } from '@glcert/contracts';

/** What a call (or one streamed item) answered. */
export interface Answer {
  /** grpc.status name: OK, INVALID_ARGUMENT, ... */
  code: string;
  message: string;
  reason?: string;
  fields: string[];
  /** Bytes of the status's metadata values (error details included): caller input must not ride along at length. */
  metadataBytes?: number;
}

function metadataBytes(md: grpc.Metadata | undefined): number {
  let n = 0;
  for (const v of Object.values(md?.getMap() ?? {})) n += typeof v === 'string' ? Buffer.byteLength(v) : v.length;
  return n;
}

export const codeName = (code: number): string => grpc.status[code] ?? String(code);

export function answerOfError(err: unknown): Answer {
  const e = err as grpc.ServiceError;
  const decoded = decodeStatus(e);
  return {
    code: codeName(e.code),
    message: e.details ?? e.message,
    reason: decoded?.errorInfo?.reason,
    fields: decoded?.badRequest?.fieldViolations.map((v) => v.field) ?? [],
    metadataBytes: metadataBytes(e.metadata),
  };
}

export function answerOfStatus(status: grpc.StatusObject): Answer {
  const decoded = decodeStatus(status.metadata);
  return {
    code: codeName(status.code),
    message: status.details,
    reason: decoded?.errorInfo?.reason,
    fields: decoded?.badRequest?.fieldViolations.map((v) => v.field) ?? [],
  };
}

export function answerOfRpcStatus(status: googleRpc.Status | undefined): Answer {
  if (!status) return { code: 'OK', message: '', fields: [] };
  const d = decodeRpcStatus(status);
  return {
    code: codeName(d.code),
    message: d.message,
    reason: d.errorInfo?.reason,
    fields: d.badRequest?.fieldViolations.map((v) => v.field) ?? [],
  };
}

type UnaryFn = (req: unknown, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: unknown) => void) => unknown;

/** `client[method](request)` as a promise; rejects with the grpc-js ServiceError. */
export function unary<Res>(client: grpc.Client, method: string, request: unknown, options: Partial<grpc.CallOptions> = {}): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryFn>)[method];
  if (typeof fn !== 'function') throw new Error(`client has no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, new grpc.Metadata(), { deadline: deadlineIn(120_000), ...options }, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** The call's answer: OK with the response, or the error's code and details. */
export async function settle<Res>(p: Promise<Res>): Promise<{ answer: Answer; response?: Res }> {
  try {
    const response = await p;
    return { answer: { code: 'OK', message: '', fields: [] }, response };
  } catch (err) {
    return { answer: answerOfError(err) };
  }
}

export interface StreamResult {
  responses: certifyV1.StreamingCertifyResponse[];
  status: grpc.StatusObject;
}

/** Sends `messages` (honouring backpressure), half-closes, and collects every response and the final status. */
export function streamAll(
  client: { streamingCertify(options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<certifyV1.StreamingCertifyRequest, certifyV1.StreamingCertifyResponse> },
  messages: certifyV1.StreamingCertifyRequest[],
  options: Partial<grpc.CallOptions> = {},
): Promise<StreamResult> {
  return new Promise((resolve) => {
    const call = client.streamingCertify({ deadline: deadlineIn(120_000), ...options });
    const responses: certifyV1.StreamingCertifyResponse[] = [];
    call.on('data', (r: certifyV1.StreamingCertifyResponse) => responses.push(r));
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      // 'status' comes after the last 'data'
      setImmediate(() => resolve({ responses, status }));
    });
    void (async () => {
      for (const m of messages) {
        if (call.destroyed) return;
        if (!call.write(m)) await new Promise<void>((r) => call.once('drain', () => r()));
      }
      call.end();
    })().catch(() => undefined);
  });
}
