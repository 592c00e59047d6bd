import { createHash } from 'node:crypto';
import { decodeFloat32Tensor, encodeFloat32Tensor, modelInputChw, TensorFormatError, type inferenceV1, type Tensor } from '@glcert/contracts';
import { FailedPreconditionError, InvalidArgumentError } from '@glcert/runtime';
import { imageValueProblem } from '@glcert/transforms';
import { decodeImage } from './decode';
import { ImageDecodeError } from './errors';

/**
 * The one way an input becomes what a model sees, shared by the certifier (to certify) and the
 * verifier (to audit): the same bytes must give the same tensor, hash and preprocessing record.
 */

/** The image to certify: float32 CHW, and how it was obtained. */
export interface PreparedInput {
  data: Float32Array;
  shape: [number, number, number];
  preprocessing: string[];
}

export type InputOneof = { $case: 'image'; image: Buffer } | { $case: 'tensor'; tensor: Tensor } | undefined;

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

/** [C, H, W] of a model whose input is [N, C, H, W]. */
export function modelChw(meta: inferenceV1.ModelMetadata): [number, number, number] {
  const chw = modelInputChw(meta);
  if (!chw) throw new FailedPreconditionError(`model '${meta.name}' has input shape [${meta.inputShape.join(', ')}]; glcert needs [N, C, H, W]`);
  return chw;
}

/**
 * Decodes an encoded image to the model's input (channels, size), or checks a raw tensor
 * against it (shape, float32, values finite and within PIXEL_ABS_MAX). Errors name `<prefix>image` / `<prefix>tensor.*`.
 */
export async function prepareInput(input: InputOneof, meta: inferenceV1.ModelMetadata, prefix = ''): Promise<PreparedInput> {
  const [c, h, w] = modelChw(meta);
  if (input === undefined) {
    throw new InvalidArgumentError(join(prefix, 'input'), 'is required: an encoded image (PNG, JPEG, WebP) or a float32 CHW tensor');
  }
  if (input.$case === 'image') {
    const field = join(prefix, 'image');
    if (c !== 1 && c !== 3) throw new FailedPreconditionError(`model '${meta.name}' takes ${c} channels; images decode to 1 or 3`);
    try {
      const decoded = await decodeImage(input.image, { channels: c, height: h, width: w });
      return { data: decoded.tensor, shape: [c, h, w], preprocessing: decoded.preprocessing };
    } catch (err) {
      if (err instanceof ImageDecodeError) throw new InvalidArgumentError(field, err.message, { reason: err.reason, cause: err });
      throw err;
    }
  }
  const field = join(prefix, 'tensor');
  let decoded;
  try {
    decoded = decodeFloat32Tensor(input.tensor);
  } catch (err) {
    if (err instanceof TensorFormatError) throw new InvalidArgumentError(`${field}.${err.field}`, err.message);
    throw err;
  }
  const shape = decoded.shape;
  if (shape.length !== 3 || shape[0] !== c || shape[1] !== h || shape[2] !== w) {
    throw new InvalidArgumentError(`${field}.shape`, `must be the input of model '${meta.name}', [${c}, ${h}, ${w}]; got [${shape.join(', ')}]`);
  }
  const data = decoded.data;
  // the pixel domain (docs/numeric-domains.md) keeps every transform's output finite in float32
  const bad = imageValueProblem(data);
  if (bad) throw new InvalidArgumentError(`${field}.raw_contents`, bad.message);
  return { data, shape: [c, h, w], preprocessing: [`float32 CHW tensor [${c}, ${h}, ${w}] as given`] };
}

/** The prepared input as a wire tensor, and the hex SHA-256 of its float32 LE bytes (what certificates record). */
export function inputSha256(input: PreparedInput): { sha256: string; tensor: Tensor } {
  const tensor = encodeFloat32Tensor(input.data, input.shape);
  return { sha256: createHash('sha256').update(tensor.rawContents).digest('hex'), tensor };
}
