import { setMaxListeners } from 'node:events';

/**
 * A signal that many concurrent operations listen to at once (every chunk call, backoff and
 * slot wait of a certification adds its own 'abort' listener and removes it when done), so
 * Node's leak warning at 11 listeners is lifted for it.
 */
export function shared<S extends AbortSignal>(signal: S): S {
  setMaxListeners(0, signal);
  return signal;
}

/** AbortSignal.any, shared. */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  return shared(AbortSignal.any(signals));
}
