// Runs one solve off the main thread: a solve takes seconds to minutes of pure CPU, and the
// event loop must keep answering health checks and cache hits meanwhile. The pool terminates
// this thread when the solve's last caller has gone.
import { parentPort, workerData } from 'node:worker_threads';
import { solveBound, type BoundRequest } from '@glcert/bounds';
import type { WorkerReply } from './solver-pool';

const request = workerData as BoundRequest;
let reply: WorkerReply;
try {
  reply = { ok: true, result: solveBound(request) };
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  // the error's class and field cross the thread boundary so the service can map them to a status
  const field = (e as { field?: unknown }).field;
  reply = { ok: false, name: e.name, message: e.message, field: typeof field === 'string' ? field : undefined };
}
parentPort!.postMessage(reply);
