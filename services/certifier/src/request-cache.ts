// request_id idempotency (AIP-155): the same request_id with the same request returns the
// same certificate; the same request_id with a different request is ALREADY_EXISTS. A
// request still running is shared: a concurrent duplicate joins it and waits for its result.
// Failed requests are forgotten, so a retry after UNAVAILABLE does the work again.
import { shared } from '@glcert/runtime';

/**
 * Work shared by every caller that joined it (the first Certify under a request_id and each
 * identical duplicate arriving while it runs). It belongs to none of them: its signal aborts
 * only when the last joined caller has gone (cancelled or past its own deadline), so one
 * caller leaving never fails the others, and no caller's deadline is imposed on the work:
 * each caller times out on its own, and the work stops when nobody waits any more.
 */
export class SharedWork<T> {
  readonly #controller = new AbortController();
  #callers = 0;
  #settled = false;
  readonly result: Promise<T>;

  /** `run` starts on the next microtask, so the creator joins before any work is done. */
  constructor(run: (signal: AbortSignal) => Promise<T>) {
    shared(this.#controller.signal);
    this.result = Promise.resolve().then(() => run(this.#controller.signal));
    this.result.then(
      () => (this.#settled = true),
      () => (this.#settled = true),
    );
  }

  /** Aborted once every joined caller has left before the result was in. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True when nobody waits any more and the work is being stopped: a new caller must start afresh. */
  get abandoned(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Callers waiting now. */
  get callers(): number {
    return this.#callers;
  }

  /**
   * The result for one caller: rejects with `signal.reason` as soon as this caller's signal
   * aborts (its own cancellation or deadline), without touching the work unless it was the
   * last caller waiting.
   */
  join(signal: AbortSignal): Promise<T> {
    if (this.#settled) return this.result;
    this.#callers++;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        this.#callers--;
      };
      const onAbort = (): void => {
        leave();
        reject(signal.reason);
        if (this.#callers === 0 && !this.#settled) this.#controller.abort(signal.reason);
      };
      this.result.then(
        (value) => {
          leave();
          resolve(value);
        },
        (err: unknown) => {
          leave();
          reject(err);
        },
      );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

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
