/**
 * Typed errors of @glcert/imaging. Neither names a request field: the caller knows which field
 * carried the bytes (`image`, `items[3].image`) and maps `code` to the gRPC status
 * (INVALID_ARGUMENT) with that field, `reason` becoming the ErrorInfo reason.
 */

/** Why an image was rejected. */
export type ImageDecodeReason =
  /** zero bytes */
  | 'EMPTY_IMAGE'
  /** not PNG, JPEG or WebP (a recognised other format is named in the message) */
  | 'UNSUPPORTED_FORMAT'
  /** the data ends before the image does */
  | 'TRUNCATED_IMAGE'
  /** the decoder could not read the data */
  | 'CORRUPT_IMAGE'
  /** more pixels (or bytes) than the configured limit: decompression-bomb guard */
  | 'IMAGE_TOO_LARGE'
  /** several frames (APNG, animated WebP): a certificate is about one image, never a silent first frame */
  | 'ANIMATED_IMAGE';

export class ImageDecodeError extends Error {
  /** The status every caller maps this error to. */
  readonly code = 'INVALID_ARGUMENT' as const;

  constructor(
    readonly reason: ImageDecodeReason,
    message: string,
    /** The detected container format, when one was recognised. */
    readonly format?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImageDecodeError';
  }
}

export type DatasetErrorReason =
  | 'LABELS_NOT_FOUND'
  | 'LABELS_INVALID'
  | 'FILE_NOT_FOUND'
  | 'IDX_INVALID'
  | 'DATASET_NOT_FOUND';

/** A dataset on disk that cannot be read as given; the message names the file (and line). */
export class DatasetError extends Error {
  constructor(
    readonly reason: DatasetErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatasetError';
  }
}
