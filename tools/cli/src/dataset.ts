// Dataset sources for certify-dataset: an image folder with labels.csv, the shipped MNIST
// held-out set (`mnist-test`), or the Fashion-MNIST test set (`fashion-mnist-test`, the Debian
// package's IDX files). Items carry their position in the dataset; `--limit` takes the first
// N, then `--shard i/N` keeps the items with index % N == i (so the shards of a limited run
// partition exactly the first N items).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import sharp from 'sharp';

import { encodeFloat32Tensor, type certifyV1 } from '@glcert/contracts';
import { decodeImage, defaultMnistTestDir, readFashionMnistTest, readImageFolder, readLabelsCsv } from '@glcert/imaging';

import { UsageError } from './args';
import type { ReportStrip } from './report';

export interface DatasetItem {
  id: string;
  index: number;
  label: number;
  input: NonNullable<certifyV1.CertifyItem['input']>;
  /** For the report strip. */
  decode(): Promise<ReportStrip | undefined>;
}

export interface Shard {
  index: number;
  count: number;
}

/** `i/N` with 0 <= i < N. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shard: expected i/N (e.g. 0/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard: N must be >= 1, got '${text}'`);
  if (index >= count) throw new UsageError(`--shard: i must be in [0, N), got '${text}'`);
  return { index, count };
}

export function inShard(index: number, shard: Shard | undefined): boolean {
  return shard === undefined || index % shard.count === shard.index;
}

export interface Dataset {
  /** What the user named, resolved. */
  name: string;
  /** Ids and positions of the items after --limit (before --shard), without reading them. */
  entries: ReadonlyArray<{ id: string; index: number }>;
  /** The items in order (read lazily: one at a time). */
  items(): AsyncGenerator<DatasetItem>;
}

export const NAMED_DATASETS = ['mnist-test', 'fashion-mnist-test'] as const;

/** Decodes image bytes at their own size for display (grey stays grey). */
async function decodeForDisplay(id: string, bytes: Buffer): Promise<ReportStrip | undefined> {
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) return undefined;
    const channels = meta.channels !== undefined && meta.channels >= 3 && meta.space !== 'b-w' ? 3 : 1;
    const d = await decodeImage(bytes, { channels, height: meta.height, width: meta.width });
    return { tensor: d.tensor, shape: d.shape, id };
  } catch {
    return undefined;
  }
}

/** The dataset a certify-dataset argument names; UsageError when it does not exist. */
export async function openDataset(source: string, limit?: number): Promise<Dataset> {
  if (source === 'fashion-mnist-test') {
    let items;
    try {
      items = await readFashionMnistTest(undefined, { limit });
    } catch (e) {
      throw new UsageError(`fashion-mnist-test: ${(e as Error).message}`);
    }
    return {
      name: 'fashion-mnist-test',
      entries: items.map((it) => ({ id: it.id, index: it.index })),
      async *items() {
        for (const it of items) {
          yield {
            id: it.id,
            index: it.index,
            label: it.label,
            input: { $case: 'tensor', tensor: encodeFloat32Tensor(it.tensor, it.shape) },
            decode: () => Promise.resolve({ tensor: it.tensor, shape: it.shape, id: it.id }),
          };
        }
      },
    };
  }
  let dir = source;
  if (source === 'mnist-test' && !existsSync(source)) {
    const found = defaultMnistTestDir();
    if (!found) throw new UsageError('mnist-test: data/mnist-test not found in this checkout');
    dir = found;
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`'${source}' is neither a folder with labels.csv nor one of ${NAMED_DATASETS.join(', ')}`);
  }
  let entries;
  try {
    entries = await readLabelsCsv(dir);
  } catch (e) {
    throw new UsageError(`${source}: ${(e as Error).message}`);
  }
  return {
    name: source === 'mnist-test' ? 'mnist-test' : dir,
    entries: entries.slice(0, limit === undefined ? entries.length : limit).map((e, index) => ({ id: e.file, index })),
    async *items() {
      let index = 0;
      for await (const it of readImageFolder(dir, { limit })) {
        const bytes = it.bytes;
        yield {
          id: it.id,
          index: index++,
          label: it.label,
          input: { $case: 'image', image: bytes },
          decode: () => decodeForDisplay(it.id, bytes),
        };
      }
    },
  };
}

/** A digit of the shipped set for examples (`data/mnist-test/7-....png`, relative to cwd). */
export function exampleDigit(): string {
  const dir = defaultMnistTestDir();
  const file = dir ? readdirSync(dir).filter((f) => f.startsWith('7-') && f.endsWith('.png')).sort()[0] : undefined;
  return dir && file ? relative(process.cwd(), join(dir, file)) : 'digit.png';
}
