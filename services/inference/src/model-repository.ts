// The model repository: every `<MODELS_DIR>/<name>/` holding a `card.json` (and the ONNX file
// it names, `model.onnx` by default) is one model. Cards are validated and the file's SHA-256
// is checked against the card before anything is loaded: a certificate names the model by its
// hash, so serving a file that differs from its card would make certificates lie.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** A model as the service knows it: card facts plus the verified file. */
export interface ModelEntry {
  name: string;
  version: string;
  /** Hex SHA-256 of the ONNX file (verified). */
  sha256: string;
  /** Absolute path of the ONNX file. */
  file: string;
  inputName: string;
  /** Output holding the logits; undefined means the model's first output. */
  outputName?: string;
  channels: number;
  height: number;
  width: number;
  valueMin: number;
  valueMax: number;
  classNames: string[];
  preprocessing: string;
}

/** A card or model file that cannot be served (fails start-up). */
export class ModelRepositoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelRepositoryError';
  }
}

/** Hex SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DIM = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Parses and checks one card; `dir` is the model's folder. Does not touch the model file. */
export function parseModelCard(card: unknown, dir: string): ModelEntry {
  const where = path.join(dir, 'card.json');
  const fail = (field: string, why: string): never => {
    throw new ModelRepositoryError(`${where}: ${field} ${why}`);
  };
  if (!isObject(card)) return fail('card', 'must be a JSON object');
  const folder = path.basename(dir);
  const name = card.name ?? folder;
  if (typeof name !== 'string' || name.length === 0) fail('name', 'must be a non-empty string');
  if (name !== folder) fail('name', `'${String(name)}' must equal the folder name '${folder}'`);
  const version = card.version;
  if (typeof version !== 'string' || version.length === 0) fail('version', 'must be a non-empty string');
  const sha256 = card.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) fail('sha256', 'must be 64 lowercase hex digits');
  const fileName = card.file ?? 'model.onnx';
  if (typeof fileName !== 'string' || fileName !== path.basename(fileName) || fileName.startsWith('.')) {
    fail('file', 'must be a file name inside the model folder');
  }

  const input = card.input;
  if (!isObject(input)) return fail('input', 'must be an object');
  if (typeof input.name !== 'string' || input.name.length === 0) fail('input.name', 'must be a non-empty string');
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !(shape[0] === -1 || DIM(shape[0])) || !shape.slice(1).every(DIM)) {
    fail('input.shape', `must be [-1, C, H, W] with positive C, H, W, got ${JSON.stringify(shape)}`);
  }
  const [, channels, height, width] = shape as number[];
  if (input.channels !== undefined && input.channels !== channels) fail('input.channels', `(${String(input.channels)}) disagrees with input.shape`);
  if (input.height !== undefined && input.height !== height) fail('input.height', `(${String(input.height)}) disagrees with input.shape`);
  if (input.width !== undefined && input.width !== width) fail('input.width', `(${String(input.width)}) disagrees with input.shape`);
  if (input.dtype !== undefined && input.dtype !== 'float32') fail('input.dtype', `must be float32, got ${String(input.dtype)}`);
  if (input.layout !== undefined && input.layout !== 'NCHW') fail('input.layout', `must be NCHW, got ${String(input.layout)}`);
  const range = input.value_range ?? [0, 1];
  if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isFinite) || !(range[0] < range[1])) {
    fail('input.value_range', `must be [min, max] with min < max, got ${JSON.stringify(range)}`);
  }

  const classes = card.classes;
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
    fail('classes', 'must be an array of at least two class names');
  }
  let outputName: string | undefined;
  const output = card.output;
  if (output !== undefined) {
    if (!isObject(output)) return fail('output', 'must be an object');
    if (output.name !== undefined) {
      if (typeof output.name !== 'string' || output.name.length === 0) fail('output.name', 'must be a non-empty string');
      outputName = output.name as string;
    }
    const oshape = output.shape;
    if (oshape !== undefined && (!Array.isArray(oshape) || oshape.length !== 2 || oshape[1] !== (classes as string[]).length)) {
      fail('output.shape', `must be [-1, ${(classes as string[]).length}] (one logit per class), got ${JSON.stringify(oshape)}`);
    }
  }
  const preprocessing = card.preprocessing ?? '';
  if (typeof preprocessing !== 'string') fail('preprocessing', 'must be a string');

  return {
    name: name as string,
    version: version as string,
    sha256: sha256 as string,
    file: path.resolve(dir, fileName as string),
    inputName: input.name as string,
    outputName,
    channels,
    height,
    width,
    valueMin: (range as number[])[0],
    valueMax: (range as number[])[1],
    classNames: classes as string[],
    preprocessing: preprocessing as string,
  };
}

/** Reads one model folder: parses its card and verifies the file's hash. */
export async function loadModelEntry(dir: string): Promise<ModelEntry> {
  const cardPath = path.join(dir, 'card.json');
  let card: unknown;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8'));
  } catch (err) {
    throw new ModelRepositoryError(`${cardPath}: cannot read card: ${(err as Error).message}`);
  }
  const entry = parseModelCard(card, dir);
  let actual: string;
  try {
    actual = await sha256File(entry.file);
  } catch (err) {
    throw new ModelRepositoryError(`model '${entry.name}': cannot read ${entry.file}: ${(err as Error).message}`);
  }
  if (actual !== entry.sha256) {
    throw new ModelRepositoryError(
      `model '${entry.name}': SHA-256 of ${entry.file} is ${actual} but card.json says ${entry.sha256}; refusing to serve a model that differs from its card`,
    );
  }
  return entry;
}

/**
 * Loads every model of `modelsDir` (sub-folders with a card.json, sorted by name). Throws
 * ModelRepositoryError on the first invalid card or hash mismatch, or when no model is found.
 */
export async function loadModelRepository(modelsDir: string): Promise<ModelEntry[]> {
  let names: string[];
  try {
    names = (await readdir(modelsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    throw new ModelRepositoryError(`models directory ${modelsDir}: ${(err as Error).message}`);
  }
  const dirs: string[] = [];
  for (const name of names.sort()) {
    const dir = path.join(modelsDir, name);
    const hasCard = await stat(path.join(dir, 'card.json')).then(
      (s) => s.isFile(),
      () => false,
    );
    if (hasCard) dirs.push(dir);
  }
  if (dirs.length === 0) throw new ModelRepositoryError(`models directory ${modelsDir} has no model (no <name>/card.json)`);
  const entries: ModelEntry[] = [];
  for (const dir of dirs) entries.push(await loadModelEntry(dir));
  return entries;
}
