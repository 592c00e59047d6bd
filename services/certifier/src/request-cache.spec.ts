import { CancelledError, SharedWork } from '@glcert/runtime';
import { RequestCache } from './request-cache';

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

describe('RequestCache with shared work', () => {
  it('hits join the running work; abandoned work is a miss, so the next caller starts afresh', async () => {
    const c = new RequestCache<string>(4);
    const { work } = controllable();
    c.store('r', 'f', work);
    const a = new AbortController();
    const pa = work.join(a.signal);
    const hit = c.lookup('r', 'f');
    expect(hit).toMatchObject({ kind: 'hit', work });
    a.abort(new CancelledError());
    await expect(pa).rejects.toBeInstanceOf(CancelledError);
    expect(c.lookup('r', 'f')).toEqual({ kind: 'miss' });
    expect(c.size).toBe(0);
  });
});
