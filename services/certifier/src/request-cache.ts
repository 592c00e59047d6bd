// request_id idempotency (AIP-155): the same request_id with the same request returns the
// same certificate; the same request_id with a different request is ALREADY_EXISTS. A
// request still running is shared: a concurrent duplicate waits for the first one's result.
// Failed requests are forgotten, so a retry after UNAVAILABLE does the work again.

export interface CachedResult<T> {
  fingerprint: string;
  result: Promise<T>;
}

export type CacheLookup<T> =
  | { kind: 'miss' }
  | { kind: 'hit'; result: Promise<T> }
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
    // refresh its place in the LRU order
    this.#entries.delete(requestId);
    this.#entries.set(requestId, entry);
    return { kind: 'hit', result: entry.result };
  }

  /** Remembers a running request; it is dropped again if `result` rejects. */
  store(requestId: string, fingerprint: string, result: Promise<T>): void {
    if (this.capacity <= 0) return;
    const entry = { fingerprint, result };
    this.#entries.delete(requestId);
    this.#entries.set(requestId, entry);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    result.catch(() => {
      if (this.#entries.get(requestId) === entry) this.#entries.delete(requestId);
    });
  }
}
