// Server reflection as a grpcurl-style client sees it: only the reflection protocol (its own
// .proto, as grpcurl compiles in), no glcert .proto file and no generated glcert code on the
// client side. The service definitions below are only the server's.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { CertificationServiceService, VerificationServiceService, type CertificationServiceServer, type VerificationServiceServer } from '@glcert/contracts';
import { createLogger } from '@glcert/telemetry';
import { startService, type RunningService } from './server';
import { reflectionFromEnv } from './reflection';

const REFLECTION_PROTO_DIR = join(require.resolve('@grpc/reflection/package.json'), '..', 'build', 'proto');

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** A ServerReflection client of one version (v1 or v1alpha), from the reflection .proto alone. */
function reflectionClient(version: 'v1' | 'v1alpha', address: string): grpc.Client & { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> } {
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [REFLECTION_PROTO_DIR], keepCase: false, longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> } };
  const Ctor = pkg.grpc.reflection[version]!.ServerReflection;
  return new Ctor(address, grpc.credentials.createInsecure()) as never;
}

/** One request, one response on the bidi ServerReflectionInfo stream. */
function ask(client: ReturnType<typeof reflectionClient>, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.on('data', (r: ReflectionResponse) => {
      resolve(r);
      call.end();
    });
    call.on('error', reject);
    call.write(request);
  });
}

/** What grpcurl does: the file defining a symbol, then its dependencies by name, into one registry. */
async function resolveSymbol(client: ReturnType<typeof reflectionClient>, symbol: string): Promise<FileRegistry> {
  const files = new Map<string, FileDescriptorProto>();
  const add = (r: ReflectionResponse): void => {
    if (r.errorResponse) throw new Error(`reflection error ${r.errorResponse.errorCode}: ${r.errorResponse.errorMessage}`);
    for (const b of r.fileDescriptorResponse!.fileDescriptorProto) {
      const f = fromBinary(FileDescriptorProtoSchema, b);
      files.set(f.name, f);
    }
  };
  add(await ask(client, { fileContainingSymbol: symbol }));
  for (let missing = deps(files); missing.length > 0; missing = deps(files)) {
    for (const name of missing) add(await ask(client, { fileByFilename: name }));
  }
  // a FileDescriptorSet lists dependencies before their dependents
  const ordered: FileDescriptorProto[] = [];
  const done = new Set<string>();
  const visit = (f: FileDescriptorProto): void => {
    if (done.has(f.name)) return;
    done.add(f.name);
    for (const d of f.dependency) visit(files.get(d)!);
    ordered.push(f);
  };
  for (const f of files.values()) visit(f);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

function deps(files: Map<string, FileDescriptorProto>): string[] {
  return [...new Set([...files.values()].flatMap((f) => f.dependency))].filter((d) => !files.has(d));
}

const certification: CertificationServiceServer = {
  certify: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
  streamingCertify: (call) => call.end(),
  getPublicKeys: (_call, cb) => cb(null, { keys: [] }),
  listPresets: (_call, cb) =>
    cb(null, { presets: [{ name: 'brightness', description: 'b', threatModel: undefined }], defaultN0: 200n, defaultN: 1000n, defaultAlpha: 0.001 }),
};
const verification: VerificationServiceServer = {
  verifyCertificate: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
  auditCertificate: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
};

async function start(reflection?: boolean, exit: (code: number) => void = () => undefined): Promise<RunningService> {
  return startService({
    name: 'reflectiontest',
    config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20, shutdownGraceMs: 100 },
    services: [
      { definition: CertificationServiceService, implementation: certification },
      { definition: VerificationServiceService, implementation: verification },
    ],
    log: createLogger('reflectiontest', { level: 'silent' }),
    signals: [],
    signalTarget: new EventEmitter(),
    exit,
    reflection,
  });
}

describe('gRPC server reflection', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await start(); // default: on
  });
  afterAll(() => svc.shutdown());

  it.each(['v1', 'v1alpha'] as const)('%s lists the services the server hosts', async (version) => {
    const client = reflectionClient(version, svc.address);
    try {
      const r = await ask(client, { listServices: '*' });
      expect(r.listServicesResponse!.service.map((s) => s.name).sort()).toEqual(['glcert.certify.v1.CertificationService', 'glcert.verify.v1.VerificationService']);
    } finally {
      client.close();
    }
  });

  it("resolves Certify's request type through reflection alone (fields, nested types, comments)", async () => {
    const client = reflectionClient('v1', svc.address);
    try {
      const registry = await resolveSymbol(client, 'glcert.certify.v1.CertificationService');
      const service = registry.getService('glcert.certify.v1.CertificationService')!;
      expect(service.methods.map((m) => m.name)).toEqual(['Certify', 'StreamingCertify', 'GetPublicKeys', 'ListPresets']);
      const certify = service.methods.find((m) => m.name === 'Certify')!;
      expect(certify.input.typeName).toBe('glcert.certify.v1.CertifyRequest');
      const fields = Object.fromEntries(certify.input.fields.map((f) => [f.name, f]));
      expect(Object.keys(fields)).toEqual(['request_id', 'model', 'image', 'tensor', 'threat_model', 'bound_settings', 'n0', 'n', 'alpha', 'seed', 'preset', 'sampling']);
      expect(fields.threat_model!.message?.typeName).toBe('glcert.common.v1.ThreatModel');
      expect(fields.threat_model!.message!.fields.map((f) => f.name)).toEqual(['transform', 'box', 'smoothing', 'note']);
      expect(fields.n0!.scalar).toBeDefined();
      expect(fields.image!.oneof?.name).toBe('input');
      // the comments travel too (grpcurl describe shows them)
      const file = certify.input.file.proto;
      const at = [4, file.messageType.findIndex((m) => m.name === 'CertifyRequest'), 2, certify.input.fields.findIndex((f) => f.name === 'alpha')];
      const comment = file.sourceCodeInfo?.location.find((l) => l.path.join() === at.join())?.leadingComments;
      expect(comment).toMatch(/Optional \(0: default 0\.001\)/);
      // and the Certificate answer, including its DSSE envelope
      expect(registry.getMessage('glcert.certify.v1.Certificate')!.fields.map((f) => f.name)).toContain('dsse_envelope');
    } finally {
      client.close();
    }
  });

  it('a dynamic call built from the reflected descriptors works (as grpcurl -d)', async () => {
    const client = reflectionClient('v1alpha', svc.address);
    let registry: FileRegistry;
    try {
      registry = await resolveSymbol(client, 'glcert.certify.v1.CertificationService.ListPresets');
    } finally {
      client.close();
    }
    const method = registry.getService('glcert.certify.v1.CertificationService')!.methods.find((m) => m.name === 'ListPresets')!;
    const raw = new grpc.Client(svc.address, grpc.credentials.createInsecure());
    try {
      const bytes = await new Promise<Buffer>((resolve, reject) =>
        raw.makeUnaryRequest(
          '/glcert.certify.v1.CertificationService/ListPresets',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(toBinary(method.input as DescMessage, create(method.input as DescMessage))),
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      );
      const res = fromBinary(method.output as DescMessage, bytes) as unknown as { presets: Array<{ name: string }>; defaultN: bigint };
      expect(res.presets.map((p) => p.name)).toEqual(['brightness']);
      expect(res.defaultN).toBe(1000n);
    } finally {
      raw.close();
    }
  });
});

describe('the reflection switch', () => {
  it('reflection: false serves no reflection (UNIMPLEMENTED)', async () => {
    const svc = await start(false);
    const client = reflectionClient('v1', svc.address);
    try {
      await expect(ask(client, { listServices: '*' })).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    } finally {
      client.close();
      await svc.shutdown();
    }
  });

  it('GRPC_REFLECTION: on by default, false/0/off turn it off, anything else is a config error naming it', () => {
    expect(reflectionFromEnv({})).toBe(true);
    expect(reflectionFromEnv({ GRPC_REFLECTION: 'true' })).toBe(true);
    for (const off of ['false', '0', 'off', 'no']) expect(reflectionFromEnv({ GRPC_REFLECTION: off })).toBe(false);
    expect(() => reflectionFromEnv({ GRPC_REFLECTION: 'maybe' })).toThrow(/GRPC_REFLECTION: must be true or false/);
  });

  it('an invalid GRPC_REFLECTION exits 78 before binding', async () => {
    const before = process.env.GRPC_REFLECTION;
    process.env.GRPC_REFLECTION = 'sometimes';
    const exit = jest.fn();
    try {
      await expect(start(undefined, exit)).rejects.toThrow(/GRPC_REFLECTION/);
      expect(exit).toHaveBeenCalledWith(78);
    } finally {
      if (before === undefined) delete process.env.GRPC_REFLECTION;
      else process.env.GRPC_REFLECTION = before;
    }
  });
});
