import { FILE_DESCRIPTOR_PROTOS_BASE64 } from './gen/descriptors';

let decoded: Buffer[] | undefined;

/**
 * The serialised FileDescriptorProto of every glcert proto and its imports (google/protobuf,
 * google/rpc), with comments, dependencies first: what server reflection serves and
 * docs/api.md is rendered from. Decoded once; callers must not modify the buffers.
 */
export function fileDescriptorProtos(): readonly Buffer[] {
  decoded ??= FILE_DESCRIPTOR_PROTOS_BASE64.map((b) => Buffer.from(b, 'base64'));
  return decoded;
}
