import { CancelledError, DeadlineExceededError } from './errors';
import { SharedWork } from './shared-work';

/** Work that resolves when told to, and records whether its signal aborted. */
function controllable() {
  let finish!: (v: string) => void;
  const seen: { signal?: AbortSignal } = {};
  const work = new SharedWork<string>((signal) => {
    seen.signal = signal;
    return new Promise<string>((resolve, reject) => {
      finish = resolve;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  });
  return { work, seen, finish: (v: string) => finish(v) };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SharedWork', () => {
  it('a caller leaving rejects that caller only; the others get the result', async () => {
    const { work, seen, finish } = controllable();
    const a = new AbortController();
    const b = new AbortController();
    const pa = work.join(a.signal);
    const pb = work.join(b.signal);
    await tick();
    a.abort(new DeadlineExceededError());
    await expect(pa).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(work.callers).toBe(1);
    expect(seen.signal!.aborted).toBe(false);
    finish('done');
    await expect(pb).resolves.toBe('done');
    // a caller joining after the result is in gets it at once
    await expect(work.join(new AbortController().signal)).resolves.toBe('done');
  });

  it('the work aborts only when the last caller has gone, with that caller\'s reason', async () => {
    const { work, seen } = controllable();
    const a = new AbortController();
    const b = new AbortController();
    const pa = work.join(a.signal);
    const pb = work.join(b.signal);
    await tick();
    b.abort(new CancelledError());
    await expect(pb).rejects.toBeInstanceOf(CancelledError);
    expect(work.abandoned).toBe(false);
    a.abort(new DeadlineExceededError());
    await expect(pa).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(work.abandoned).toBe(true);
    expect(seen.signal!.reason).toBeInstanceOf(DeadlineExceededError);
    await expect(work.result).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('a caller whose signal is already aborted leaves at once', async () => {
    const { work } = controllable();
    const keep = work.join(new AbortController().signal);
    const gone = new AbortController();
    gone.abort(new CancelledError());
    await expect(work.join(gone.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(work.callers).toBe(1);
    expect(work.abandoned).toBe(false);
    keep.catch(() => undefined);
  });
});
