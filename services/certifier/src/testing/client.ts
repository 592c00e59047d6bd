// Promise wrappers around the generated CertificationService client, for tests.
import * as grpc from '@grpc/grpc-js';
import { CertificationServiceClient, type certifyV1 } from '@glcert/contracts';
import { createClient } from '@glcert/runtime';

export function certifierClient(address: string): CertificationServiceClient {
  return createClient(CertificationServiceClient, address, { defaultDeadlineMs: 120_000 });
}

export function certify(client: CertificationServiceClient, req: Partial<certifyV1.CertifyRequest>, options: Partial<grpc.CallOptions> = {}): Promise<certifyV1.CertifyResponse> {
  const full: certifyV1.CertifyRequest = { requestId: '', model: '', n0: 0n, n: 0n, alpha: 0, ...req };
  return new Promise((resolve, reject) => {
    client.certify(full, new grpc.Metadata(), options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export function getPublicKeys(client: CertificationServiceClient): Promise<certifyV1.GetPublicKeysResponse> {
  return new Promise((resolve, reject) => client.getPublicKeys({}, (err, res) => (err ? reject(err) : resolve(res))));
}

export interface StreamOutcome {
  responses: certifyV1.StreamingCertifyResponse[];
  /** The final status of the call. */
  status: grpc.StatusObject;
}

/** Sends every message honouring backpressure, half-closes, collects the responses and the status. */
export function streamAll(
  client: CertificationServiceClient,
  messages: certifyV1.StreamingCertifyRequest[],
  options: Partial<grpc.CallOptions> = {},
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const call = client.streamingCertify(options);
    const responses: certifyV1.StreamingCertifyResponse[] = [];
    let status: grpc.StatusObject | undefined;
    let ended = false;
    const done = (): void => {
      if (status && ended) resolve({ responses, status });
    };
    call.on('data', (r: certifyV1.StreamingCertifyResponse) => responses.push(r));
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      done();
    });
    call.on('error', () => undefined);
    call.on('end', () => {
      ended = true;
      done();
    });
    call.on('close', () => {
      ended = true;
      done();
    });
    void (async () => {
      for (const m of messages) {
        if (!call.write(m)) await new Promise<void>((r) => call.once('drain', () => r()));
      }
      call.end();
    })().catch(() => undefined);
  });
}
