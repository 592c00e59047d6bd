// A FIFO counting semaphore: bounds the Classify calls in flight from this sampler across all
// concurrent CountSamples calls, so many concurrent requests share the sidecar in turn instead
// of overflowing its queue (which answers RESOURCE_EXHAUSTED).

export class Permits {
  private available: number;
  private readonly waiters: Array<{ grant: () => void; reject: (err: unknown) => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    this.available = size;
  }

  /** Permits free now. */
  get free(): number {
    return this.available;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves when a permit is held; rejects with `signal.reason` when aborted first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.available > 0 && this.waiters.length === 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Returns a permit: the longest waiter gets it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next.grant();
    else if (this.available < this.size) this.available++;
    else throw new Error('Permits.release without a matching acquire');
  }
}
