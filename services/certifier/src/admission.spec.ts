import { Admission } from './admission';
import { RequestCache } from './request-cache';

describe('Admission', () => {
  it('refuses past the limit at once and frees on release (idempotent)', () => {
    const a = new Admission(2);
    const r1 = a.tryAcquire();
    const r2 = a.tryAcquire();
    expect(r1 && r2).toBeTruthy();
    expect(a.tryAcquire()).toBeUndefined();
    let notified = 0;
    const off = a.onRelease(() => notified++);
    r1!();
    r1!();
    expect(a.inflight).toBe(1);
    expect(notified).toBe(1);
    off();
    expect(a.tryAcquire()).toBeDefined();
    expect(a.tryAcquire()).toBeUndefined();
    expect(() => new Admission(0)).toThrow(RangeError);
  });
});

describe('RequestCache', () => {
  it('hits with the same fingerprint, conflicts with another, evicts least recently used', async () => {
    const c = new RequestCache<string>(2);
    c.store('a', 'fa', Promise.resolve('A'));
    c.store('b', 'fb', Promise.resolve('B'));
    expect(c.lookup('a', 'fa')).toMatchObject({ kind: 'hit' }); // a is now the most recent
    c.store('c', 'fc', Promise.resolve('C'));
    expect(c.lookup('b', 'fb')).toEqual({ kind: 'miss' });
    const hit = c.lookup('a', 'fa');
    expect(hit.kind).toBe('hit');
    await expect((hit as { result: Promise<string> }).result).resolves.toBe('A');
    expect(c.lookup('a', 'other')).toEqual({ kind: 'conflict' });
  });

  it('forgets failed requests so a retry runs again', async () => {
    const c = new RequestCache<string>(4);
    const failing = Promise.reject(new Error('boom'));
    failing.catch(() => undefined);
    c.store('x', 'f', failing);
    await new Promise((r) => setImmediate(r));
    expect(c.lookup('x', 'f')).toEqual({ kind: 'miss' });
  });

  it('capacity 0 remembers nothing', () => {
    const c = new RequestCache<string>(0);
    c.store('a', 'f', Promise.resolve('A'));
    expect(c.lookup('a', 'f')).toEqual({ kind: 'miss' });
  });
});
