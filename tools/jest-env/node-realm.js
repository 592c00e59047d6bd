// Jest runs each test file in its own vm context, whose typed-array constructors differ from
// the host realm's. onnxruntime-node (a native addon) checks `data instanceof Float32Array`
// against the host realm and rejects tensors built in the test realm. Sharing the host
// constructors makes tensors, Buffers and typed arrays interchangeable in tests.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class NodeRealmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = NodeRealmEnvironment;
