// Packing and unpacking google.protobuf.Any, e.g. for google.rpc.Status details (AIP-193).
// ts-proto message objects carry no type name, so callers pass it (see RPC_TYPE_NAMES).
import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import type { Any } from './gen/google/protobuf/any';

/** The conventional prefix of Any.type_url. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Fully-qualified names of the google.rpc error detail messages. */
export const RPC_TYPE_NAMES = {
  errorInfo: 'google.rpc.ErrorInfo',
  badRequest: 'google.rpc.BadRequest',
  retryInfo: 'google.rpc.RetryInfo',
  debugInfo: 'google.rpc.DebugInfo',
  quotaFailure: 'google.rpc.QuotaFailure',
  preconditionFailure: 'google.rpc.PreconditionFailure',
  requestInfo: 'google.rpc.RequestInfo',
  resourceInfo: 'google.rpc.ResourceInfo',
  help: 'google.rpc.Help',
  localizedMessage: 'google.rpc.LocalizedMessage',
} as const;

interface Encoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

interface Decoder<T> {
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/** Wraps `message` (of protobuf type `typeName`, e.g. "google.rpc.ErrorInfo") in an Any. */
export function packAny<T>(typeName: string, fns: Encoder<T>, message: T): Any {
  return { typeUrl: TYPE_URL_PREFIX + typeName, value: Buffer.from(fns.encode(message).finish()) };
}

/** The type name of an Any: the part of type_url after the last '/'. */
export function anyTypeName(any: Any): string {
  return any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
}

/** Decodes `any` when it holds `typeName`; undefined otherwise. */
export function unpackAny<T>(any: Any, typeName: string, fns: Decoder<T>): T | undefined {
  return anyTypeName(any) === typeName ? fns.decode(any.value) : undefined;
}
