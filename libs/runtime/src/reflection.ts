import type * as grpc from '@grpc/grpc-js';
import { fileDescriptorProtos } from '@glcert/contracts';
import { env, readConfig } from './config';

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl, Postman, Kreya or
 * `buf curl` can call a service without the .proto files. It serves the descriptors buf built
 * from proto/ (comments included), restricted to the services the server hosts.
 */

/** The switch: on unless GRPC_REFLECTION is false (0, no, off); any other value is a config error. */
export const REFLECTION_ENV = 'GRPC_REFLECTION';

/** Reads GRPC_REFLECTION (default true); throws ConfigError naming it when it is not a boolean. */
export function reflectionFromEnv(source: NodeJS.ProcessEnv = process.env): boolean {
  return readConfig({ reflection: env.bool(REFLECTION_ENV, { default: true }) }, source).reflection;
}

/** Adds the reflection services (v1 and v1alpha) to `server`, listing `services` (full names). */
export async function addReflection(server: Pick<grpc.Server, 'addService'>, services: readonly string[]): Promise<void> {
  // loaded only by servers that serve it: the CLI and clients importing @glcert/runtime skip its ~0.2 s
  const { ReflectionService } = await import('@grpc/reflection');
  // the library reads only fileDescriptorProtos: hand it buf's files unchanged rather than
  // proto-loader's regrouping of them (which drops comments and renames files by package)
  const pkg = {
    'glcert.descriptors': { format: 'Protocol Buffer 3 DescriptorProto' as const, type: {}, fileDescriptorProtos: [...fileDescriptorProtos()] },
  };
  new ReflectionService(pkg, { services: [...services] }).addToServer(server);
}
