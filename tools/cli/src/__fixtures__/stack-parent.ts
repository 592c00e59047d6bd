// A parent that starts a stack, prints its children's pids as one JSON line, and waits: the
// spec SIGKILLs it to check that the children do not outlive it (their IPC lifeline).
import { startStack } from '../stack';

void startStack({ basePort: 0, keysDir: process.argv[2], boundsCacheDir: process.argv[3], env: { LOG_LEVEL: 'warn', OTEL_SDK_DISABLED: 'true' } }).then((s) => {
  process.stdout.write(`${JSON.stringify(s.processes.map((p) => p.pid))}\n`);
  setInterval(() => undefined, 60_000);
});
