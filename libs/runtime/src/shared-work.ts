// Work that several callers wait on and none owns: the certifier's requests joined by request_id,
// the bounds service's solves joined by cache key. Each caller keeps its own deadline and
// cancellation; the work is stopped only when the last caller has gone.
import { shared } from './call';

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
