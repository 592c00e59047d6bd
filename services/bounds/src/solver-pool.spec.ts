import { InvalidBoundRequestError } from '@glcert/bounds';
import { errorFromWorker, SolverPool } from './solver-pool';

/** The slot is handed on when the worker thread has exited, just after the answer. */
async function idle(pool: SolverPool): Promise<number> {
  for (let i = 0; i < 100 && pool.running > 0; i++) await new Promise((r) => setTimeout(r, 20));
  return pool.running;
}

describe('SolverPool', () => {
  it("a solver refusal crosses the thread boundary with its class and field (not a plain Error: INTERNAL)", async () => {
    const pool = new SolverPool(1, 1);
    const err = await pool
      .solve({ transform: 'b', box: { b: [-0.1, 0.1] }, sigma: { b: 0.3 }, ns: 3, method: 'numeric' }, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidBoundRequestError);
    expect((err as InvalidBoundRequestError).field).toBe('bound_settings.ns');
    expect((err as Error).message).toMatch(/^bound_settings\.ns: must be an integer/);
    expect(await idle(pool)).toBe(0);
  });

  it('keeps RangeError (arithmetic out of range) apart from other errors', () => {
    expect(errorFromWorker({ ok: false, name: 'RangeError', message: 'the score is not finite' })).toBeInstanceOf(RangeError);
    const other = errorFromWorker({ ok: false, name: 'TypeError', message: 'x is undefined' });
    expect(other).not.toBeInstanceOf(RangeError);
    expect(other).not.toBeInstanceOf(InvalidBoundRequestError);
  });

  it('an aborted signal never starts a worker; a full queue is RESOURCE_EXHAUSTED', async () => {
    const pool = new SolverPool(1, 0);
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    const request = { transform: 'b', box: { b: [-0.1, 0.1] as [number, number] }, sigma: { b: 0.3 }, ns: 1000, method: 'numeric' as const };
    await expect(pool.solve(request, gone.signal)).rejects.toThrow('gone');
    expect(pool.solvesStarted).toBe(0);
    const first = pool.solve(request, new AbortController().signal);
    await expect(pool.solve(request, new AbortController().signal)).rejects.toMatchObject({ code: 8, reason: 'BOUNDS_BUSY' });
    await first;
    expect(await idle(pool)).toBe(0);
  });

  it('close() terminates a running solve and refuses the queued ones', async () => {
    const pool = new SolverPool(1, 4);
    const costly = { transform: 'cb', box: { k: [0.6, 1.4] as [number, number], b: [-0.4, 0.4] as [number, number] }, sigma: { k: 0.3, b: 0.3 }, ns: 200_000, grid: 15, method: 'numeric' as const };
    const running = pool.solve(costly, new AbortController().signal).catch((e: unknown) => e);
    const queued = pool.solve({ ...costly, ns: 100_000 }, new AbortController().signal).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    await pool.close();
    expect(await queued).toMatchObject({ code: 14, reason: 'SHUTTING_DOWN' });
    expect(await running).toBeInstanceOf(Error);
    expect(await idle(pool)).toBe(0);
    expect(pool.solvesStarted).toBe(1);
  });
});
