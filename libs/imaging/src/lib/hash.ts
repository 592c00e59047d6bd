import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of the bytes (of an image, a tensor's bytes, a model file). */
export function sha256Hex(data: Uint8Array | ArrayBufferView): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return createHash('sha256').update(bytes).digest('hex');
}
