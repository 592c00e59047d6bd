import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { DatasetError } from './errors';

export interface LabelEntry {
  /** The file as written in labels.csv (relative to the folder); unique; the item's id. */
  file: string;
  label: number;
  /** 1-based line in labels.csv. */
  line: number;
}

export interface ImageFolderItem {
  /** The file name as in labels.csv, e.g. `7-0900.png`. */
  id: string;
  /** Absolute path. */
  file: string;
  label: number;
  bytes: Buffer;
}

/** Splits one CSV record (RFC 4180 quoting: "a,b" and "" inside quotes). */
function splitCsvLine(line: string, where: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new DatasetError('LABELS_INVALID', `${where}: unterminated quoted field`);
  out.push(cur);
  return out.map((s) => s.trim());
}

/**
 * Parses labels.csv text: a header naming (at least) the columns `file` and `label`, then one
 * line per image. Labels are non-negative integers (class indices); files are relative paths
 * inside the folder, unique. `source` names the file in error messages.
 */
export function parseLabelsCsv(text: string, source = 'labels.csv'): LabelEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '', `${source}:1`).map((h) => h.toLowerCase());
  const fi = header.indexOf('file');
  const li = header.indexOf('label');
  if (fi < 0 || li < 0) {
    throw new DatasetError('LABELS_INVALID', `${source}:1: header must name the columns 'file' and 'label', got '${lines[0] ?? ''}'`);
  }
  const seen = new Set<string>();
  const out: LabelEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${source}:${i + 1}`;
    const cols = splitCsvLine(lines[i], where);
    if (cols.length !== header.length) throw new DatasetError('LABELS_INVALID', `${where}: ${cols.length} columns, the header has ${header.length}`);
    const file = cols[fi];
    const labelText = cols[li];
    if (file === '') throw new DatasetError('LABELS_INVALID', `${where}: empty file name`);
    const norm = normalize(file);
    if (isAbsolute(file) || norm === '..' || norm.startsWith(`..${sep}`) || file.includes('\0')) {
      throw new DatasetError('LABELS_INVALID', `${where}: file '${file}' must be a relative path inside the folder`);
    }
    if (!/^\d+$/.test(labelText)) throw new DatasetError('LABELS_INVALID', `${where}: label '${labelText}' is not a non-negative integer`);
    const label = Number(labelText);
    if (!Number.isSafeInteger(label)) throw new DatasetError('LABELS_INVALID', `${where}: label '${labelText}' is too large`);
    if (seen.has(file)) throw new DatasetError('LABELS_INVALID', `${where}: file '${file}' is listed twice`);
    seen.add(file);
    out.push({ file, label, line: i + 1 });
  }
  return out;
}

/** Reads and validates `<dir>/labels.csv`. */
export async function readLabelsCsv(dir: string, labelsFile = 'labels.csv'): Promise<LabelEntry[]> {
  const path = join(dir, labelsFile);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DatasetError('LABELS_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseLabelsCsv(text, path);
}

export interface ImageFolderOptions {
  labelsFile?: string;
  /** Skip this many entries (in labels.csv order). */
  offset?: number;
  /** Yield at most this many. */
  limit?: number;
}

/**
 * An image folder: `labels.csv` (file,label) plus the image files it lists. Yields the items in
 * labels.csv order with their raw bytes (decode them with decodeImage). labels.csv is validated
 * completely before the first item is yielded; a listed file that is missing fails with
 * FILE_NOT_FOUND naming it.
 */
export async function* readImageFolder(dir: string, options: ImageFolderOptions = {}): AsyncGenerator<ImageFolderItem> {
  const root = resolve(dir);
  const entries = await readLabelsCsv(root, options.labelsFile);
  const start = options.offset ?? 0;
  const end = options.limit === undefined ? entries.length : Math.min(entries.length, start + options.limit);
  for (let i = start; i < end; i++) {
    const e = entries[i];
    const file = join(root, e.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new DatasetError('FILE_NOT_FOUND', `${e.file} (labels.csv line ${e.line}): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    yield { id: e.file, file, label: e.label, bytes };
  }
}

/**
 * The MNIST held-out set shipped in the repository (`data/mnist-test`), found by walking up
 * from this file; undefined when not found (e.g. an installed package without the data).
 */
export function defaultMnistTestDir(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'data', 'mnist-test');
    if (existsSync(join(candidate, 'labels.csv'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
