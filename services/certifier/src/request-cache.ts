// request_id idempotency (AIP-155): the same request_id with the same request returns the
// same certificate; the same request_id with a different request is ALREADY_EXISTS. A
// request still running is shared: a concurrent duplicate joins it and waits for its result.
// Failed requests are forgotten, so a retry after UNAVAILABLE does the work again.
import { SharedWork } from '@glcert/runtime';

export interface CachedResult<T> {
  fingerprint: string;
  result: Promise<T>;
  /** The running work behind `result`, to join (absent for a plain stored result). */
  work?: SharedWork<T>;
}

export type CacheLookup<T> =
  | { kind: 'miss' }
  | { kind: 'hit'; result: Promise<T>; work?: SharedWork<T> }
  | { kind: 'conflict' };

/** An LRU of recent results by request_id, bounded to `capacity` entries (0: off). */
export class RequestCache<T> {
  readonly #entries = new Map<string, CachedResult<T>>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#entries.size;
  }

  lookup(requestId: string, fingerprint: string): CacheLookup<T> {
    const entry = this.#entries.get(requestId);
    if (!entry) return { kind: 'miss' };
    if (entry.fingerprint !== fingerprint) return { kind: 'conflict' };
    // work whose callers all left is being stopped: the next caller starts it again
    if (entry.work?.abandoned) {
      this.#entries.delete(requestId);
      return { kind: 'miss' };
    }
    // refresh its place in the LRU order
    this.#entries.delete(requestId);
    this.#entries.set(requestId, entry);
    return { kind: 'hit', result: entry.result, work: entry.work };
  }

  /** Remembers a running request (a result, or shared work to join); it is dropped again if it fails. */
  store(requestId: string, fingerprint: string, result: Promise<T> | SharedWork<T>): void {
    if (this.capacity <= 0) return;
    const entry: CachedResult<T> =
      result instanceof SharedWork ? { fingerprint, result: result.result, work: result } : { fingerprint, result };
    this.#entries.delete(requestId);
    this.#entries.set(requestId, entry);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    entry.result.catch(() => {
      if (this.#entries.get(requestId) === entry) this.#entries.delete(requestId);
    });
  }
}
