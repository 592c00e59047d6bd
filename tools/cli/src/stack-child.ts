// Preloaded into every process startStack spawns (`node --import <this> main.js`, or with tsx for the sources).
// The children run in their own process group (so a terminal's Ctrl-C reaches only the parent,
// which then stops them in order); the IPC channel to the parent is their lifeline: when it
// closes (the parent exited, even by SIGKILL) the child sends itself SIGTERM and shuts down
// gracefully instead of lingering as an orphan. The channel is unref'd so it never keeps the
// process alive. Imports nothing (telemetry must still start before grpc-js loads).

if (typeof process.send === 'function') {
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
  });
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}

export {};
