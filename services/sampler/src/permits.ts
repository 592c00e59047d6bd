// A FIFO weighted semaphore over samples: bounds the images in flight from this sampler to its
// sidecar across all concurrent CountSamples calls (a Classify call takes as many permits as it
// has samples), so many concurrent requests share the sidecar in turn instead of overflowing its
// queue (which answers RESOURCE_EXHAUSTED), whether a call carries one batch of images or a
// larger range of samples the sidecar builds itself.

interface Waiter {
  weight: number;
  grant: () => void;
  reject: (err: unknown) => void;
}

export class Permits {
  private available: number;
  private readonly waiters: Waiter[] = [];

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    this.available = size;
  }

  /** Permits free now. */
  get free(): number {
    return this.available;
  }

  /** Callers waiting for permits. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Resolves when `weight` permits are held (a weight above `size` holds all of them); rejects
   * with `signal.reason` when aborted first. First come, first served: a waiter never overtakes
   * an earlier one, so a large call is not starved by small ones.
   */
  acquire(signal?: AbortSignal, weight = 1): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = this.weightOf(weight);
    if (this.available >= w && this.waiters.length === 0) {
      this.available -= w;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
        // the head may have changed: those behind an aborted large waiter may fit now
        this.grantWaiting();
      };
      const waiter: Waiter = {
        weight: w,
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

  /** Returns `weight` permits (as acquired): the longest waiters get them, in order. */
  release(weight = 1): void {
    const w = this.weightOf(weight);
    if (this.available + w > this.size) throw new Error('Permits.release without a matching acquire');
    this.available += w;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    for (let head = this.waiters[0]; head !== undefined && head.weight <= this.available; head = this.waiters[0]) {
      this.waiters.shift();
      this.available -= head.weight;
      head.grant();
    }
  }

  private weightOf(weight: number): number {
    if (!Number.isSafeInteger(weight) || weight < 1) throw new RangeError(`weight must be a positive integer, got ${weight}`);
    return Math.min(weight, this.size);
  }
}
