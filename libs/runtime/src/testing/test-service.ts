// A hand-written service for the runtime's own tests (JSON and raw-bytes serializers), so
// the tests exercise real gRPC without depending on the product protos.
import * as grpc from '@grpc/grpc-js';

export interface EchoRequest {
  text: string;
  delayMs?: number;
  fail?: string;
}
export interface EchoResponse {
  text: string;
  deadline?: number;
  downstreamDeadline?: number;
}
export interface Tick {
  n: number;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};
const raw = {
  serialize: (value: Buffer): Buffer => value,
  deserialize: (bytes: Buffer): Buffer => bytes,
};

const SERVICE = 'glcert.test.v1.TestService';

function method(name: string, requestStream: boolean, responseStream: boolean, codec: typeof json | typeof raw = json) {
  return {
    path: `/${SERVICE}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: codec.serialize,
    requestDeserialize: codec.deserialize,
    responseSerialize: codec.serialize,
    responseDeserialize: codec.deserialize,
    originalName: name,
  };
}

export const TestServiceDefinition = {
  echo: method('Echo', false, false),
  /** Calls the downstream TestService's Echo (server A -> server B). */
  relay: method('Relay', false, false),
  ticks: method('Ticks', false, true),
  chat: method('Chat', true, true),
  /** Raw bytes in, byte count out (as raw bytes): for message-size limits. */
  blob: method('Blob', false, false, raw),
} as unknown as grpc.ServiceDefinition;

export const TEST_SERVICE_NAME = SERVICE;

type Cb<T> = (err: grpc.ServiceError | null, res?: T) => void;

export interface TestClient extends grpc.Client {
  echo(req: EchoRequest, options: grpc.CallOptions, cb: Cb<EchoResponse>): grpc.ClientUnaryCall;
  relay(req: EchoRequest, options: grpc.CallOptions, cb: Cb<EchoResponse>): grpc.ClientUnaryCall;
  ticks(req: { everyMs: number; count?: number }, options?: grpc.CallOptions): grpc.ClientReadableStream<Tick>;
  chat(options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoResponse>;
  blob(req: Buffer, options: grpc.CallOptions, cb: Cb<Buffer>): grpc.ClientUnaryCall;
}

export const TestClientCtor = grpc.makeGenericClientConstructor(TestServiceDefinition, 'TestService') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => TestClient;

type UnaryName = 'echo' | 'relay' | 'blob';
type ReqOf<K extends UnaryName> = Parameters<TestClient[K]>[0];
type ResOf<K extends UnaryName> = Parameters<TestClient[K]>[2] extends Cb<infer R> ? R : never;

/** Promise form of a unary call of the test client. */
export function call<K extends UnaryName>(
  client: TestClient,
  name: K,
  req: ReqOf<K>,
  options: grpc.CallOptions = {},
): Promise<ResOf<K>> {
  return new Promise((resolve, reject) => {
    const fn = client[name] as unknown as (r: unknown, o: grpc.CallOptions, cb: Cb<unknown>) => void;
    fn.call(client, req, options, (err, res) => (err ? reject(err) : resolve(res as ResOf<K>)));
  });
}

/** Resolves with the error a unary call fails with (rejects if it succeeds). */
export async function callError<K extends UnaryName>(
  client: TestClient,
  name: K,
  req: ReqOf<K>,
  options: grpc.CallOptions = {},
): Promise<grpc.ServiceError> {
  try {
    await call(client, name, req, options);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('call succeeded, expected an error');
}
