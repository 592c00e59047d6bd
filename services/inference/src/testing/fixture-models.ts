// Throw-away model repositories for tests: small dense classifiers written by onnx-builder,
// each with a card.json in the shipped format and its true SHA-256.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomDenseClassifier } from './onnx-builder';

export interface FixtureModel {
  name: string;
  chw: [number, number, number];
  /** Hidden layer widths; wide layers make a slow model (for saturation tests). */
  hidden?: number[];
  /** Hidden layers of equal width share weights (deep, slow, small file). */
  tiedHidden?: boolean;
  classes?: number;
  seed?: number;
  /** Overrides merged into card.json (e.g. a wrong sha256). */
  card?: Record<string, unknown>;
}

export interface FixtureRepository {
  dir: string;
  /** The ONNX bytes of each model, by name. */
  onnx: Map<string, Buffer>;
  remove(): void;
}

export function createFixtureRepository(models: FixtureModel[]): FixtureRepository {
  const dir = mkdtempSync(path.join(tmpdir(), 'glcert-inference-'));
  const onnx = new Map<string, Buffer>();
  for (const m of models) {
    const classes = m.classes ?? 10;
    const bytes = randomDenseClassifier(m.chw, m.hidden ?? [], classes, m.seed ?? 1, m.tiedHidden ?? false);
    onnx.set(m.name, bytes);
    const modelDir = path.join(dir, m.name);
    mkdirSync(modelDir);
    writeFileSync(path.join(modelDir, 'model.onnx'), bytes);
    const [c, h, w] = m.chw;
    const card = {
      name: m.name,
      version: '0.0.1-test',
      file: 'model.onnx',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      input: { name: 'input', shape: [-1, c, h, w], channels: c, height: h, width: w, dtype: 'float32', layout: 'NCHW', value_range: [0, 1] },
      output: { name: 'logits', shape: [-1, classes] },
      classes: Array.from({ length: classes }, (_, k) => `class-${k}`),
      preprocessing: 'test fixture: values in [0, 1]',
      random_weights: true,
      ...m.card,
    };
    writeFileSync(path.join(modelDir, 'card.json'), JSON.stringify(card, null, 2));
  }
  return { dir, onnx, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
