// Admission control: a counter of certifications in progress with a hard limit. No queue:
// `tryAcquire` answers at once; whoever is refused says RESOURCE_EXHAUSTED (or, in a stream,
// waits for one of its own items to finish: that is backpressure, not a queue).

export class Admission {
  #inflight = 0;
  readonly #listeners = new Set<() => void>();

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`admission limit must be >= 1, got ${limit}`);
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Takes a slot; the returned release is idempotent. Undefined when the limit is reached. */
  tryAcquire(): (() => void) | undefined {
    if (this.#inflight >= this.limit) return undefined;
    this.#inflight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inflight--;
      for (const l of [...this.#listeners]) l();
    };
  }

  /** Called after every release (e.g. to resume a paused stream). Returns the unsubscribe. */
  onRelease(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
