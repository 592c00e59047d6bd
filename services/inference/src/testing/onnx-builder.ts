// A minimal ONNX model writer for tests: dense classifiers (Flatten -> Gemm [-> Relu -> Gemm]...)
// over an NCHW float32 input with a dynamic batch dimension. It hand-encodes the few protobuf
// messages of onnx.proto that such a graph needs, so tests own small, deterministic models and
// depend on neither Python nor the shipped models.

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2; // AttributeProto.AttributeType.INT

class ProtoWriter {
  private readonly parts: Buffer[] = [];

  private varint(value: bigint | number): this {
    let v = BigInt(value);
    if (v < 0n) v += 1n << 64n;
    const bytes: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      bytes.push(byte);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  int(field: number, value: bigint | number): this {
    return this.varint(field << 3).varint(value);
  }

  bytes(field: number, value: Uint8Array | string): this {
    const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.varint((field << 3) | 2).varint(buf.length);
    this.parts.push(buf);
    return this;
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface DenseLayer {
  /**
   * Weights, row-major [outputs, inputs] (Gemm with transB = 1). Layers given the very same
   * Float32Array share one initializer (cheap deep models for slow-inference tests).
   */
  weights: Float32Array;
  bias: Float32Array;
  outputs: number;
}

export interface DenseModelSpec {
  inputName?: string;
  outputName?: string;
  /** C, H, W of one image. */
  chw: [number, number, number];
  /** Layers applied in order, with Relu between them; the last one produces the logits. */
  layers: DenseLayer[];
}

function valueInfo(w: ProtoWriter, field: number, name: string, dims: Array<number | string>): void {
  w.message(field, (vi) => {
    vi.bytes(1, name);
    vi.message(2, (type) =>
      type.message(1, (tensor) => {
        tensor.int(1, FLOAT);
        tensor.message(2, (shape) => {
          for (const d of dims) shape.message(1, (dim) => (typeof d === 'string' ? dim.bytes(2, d) : dim.int(1, d)));
        });
      }),
    );
  });
}

function initializer(w: ProtoWriter, name: string, dims: number[], data: Float32Array): void {
  w.message(5, (t) => {
    for (const d of dims) t.int(1, d);
    t.int(2, FLOAT);
    t.bytes(8, name);
    t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}

function node(w: ProtoWriter, op: string, inputs: string[], output: string, attrs: Record<string, number> = {}): void {
  w.message(1, (n) => {
    for (const i of inputs) n.bytes(1, i);
    n.bytes(2, output);
    n.bytes(3, `${op.toLowerCase()}_${output}`);
    n.bytes(4, op);
    for (const [name, value] of Object.entries(attrs)) {
      n.message(5, (a) => a.bytes(1, name).int(3, value).int(20, ATTR_INT));
    }
  });
}

/** Encodes an ONNX model (IR 8, opset 13) computing a dense network over a flattened NCHW input. */
export function buildDenseClassifier(spec: DenseModelSpec): Buffer {
  const inputName = spec.inputName ?? 'input';
  const outputName = spec.outputName ?? 'logits';
  const [c, h, w] = spec.chw;
  let width = c * h * w;
  const tensorNames = new Map<Float32Array, string>();
  const model = new ProtoWriter();
  model.int(1, 8); // ir_version
  model.bytes(2, 'glcert-test');
  model.message(7, (graph) => {
    node(graph, 'Flatten', [inputName], 'flat', { axis: 1 });
    let current = 'flat';
    spec.layers.forEach((layer, i) => {
      if (layer.weights.length !== layer.outputs * width) throw new Error(`layer ${i}: weights must be ${layer.outputs}x${width}`);
      if (layer.bias.length !== layer.outputs) throw new Error(`layer ${i}: bias must have ${layer.outputs} values`);
      const last = i === spec.layers.length - 1;
      const gemmOut = last ? outputName : `hidden${i}`;
      const named = (data: Float32Array, name: string, dims: number[]): string => {
        const known = tensorNames.get(data);
        if (known) return known;
        tensorNames.set(data, name);
        initializer(graph, name, dims, data);
        return name;
      };
      const weights = named(layer.weights, `w${i}`, [layer.outputs, width]);
      const bias = named(layer.bias, `b${i}`, [layer.outputs]);
      node(graph, 'Gemm', [current, weights, bias], gemmOut, { transB: 1 });
      current = gemmOut;
      if (!last) {
        node(graph, 'Relu', [gemmOut], `relu${i}`);
        current = `relu${i}`;
      }
      width = layer.outputs;
    });
    graph.bytes(2, 'dense');
    valueInfo(graph, 11, inputName, ['N', c, h, w]);
    valueInfo(graph, 12, outputName, ['N', width]);
  });
  model.message(8, (opset) => opset.bytes(1, '').int(2, 13));
  return model.finish();
}

/** Deterministic pseudo-random weights in [-scale, scale] (a small LCG; tests need repeatability, not quality). */
export function pseudoRandom(count: number, seed: number, scale = 0.1): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state / 0x100000000) * 2 - 1) * scale;
  }
  return out;
}

/**
 * A dense classifier with the given hidden widths and random weights. With `tiedHidden`, the
 * hidden-to-hidden layers of equal width share one weight matrix: compute grows with depth,
 * the file does not.
 */
export function randomDenseClassifier(chw: [number, number, number], hidden: number[], classes: number, seed = 1, tiedHidden = false): Buffer {
  const widths = [chw[0] * chw[1] * chw[2], ...hidden, classes];
  const layers: DenseLayer[] = [];
  const tied = new Map<number, DenseLayer>();
  for (let i = 1; i < widths.length; i++) {
    const square = tiedHidden && i < widths.length - 1 && widths[i] === widths[i - 1];
    const layer = (square && tied.get(widths[i])) || {
      outputs: widths[i],
      weights: pseudoRandom(widths[i] * widths[i - 1], seed + i, 1 / Math.sqrt(widths[i - 1])),
      bias: pseudoRandom(widths[i], seed + 100 + i),
    };
    if (square) tied.set(widths[i], layer);
    layers.push(layer);
  }
  return buildDenseClassifier({ chw, layers });
}
