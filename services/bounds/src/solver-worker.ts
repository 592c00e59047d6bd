// Runs one solve off the main thread: a solve takes seconds to minutes of pure CPU, and the
// event loop must keep answering health checks and cache hits meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { solveBound, type BoundRequest } from '@glcert/bounds';

const request = workerData as BoundRequest;
try {
  parentPort!.postMessage({ ok: true, result: solveBound(request) });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
