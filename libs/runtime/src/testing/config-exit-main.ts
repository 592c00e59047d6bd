// Run as a real process by config.spec.ts: loads a server config from the environment with
// the default exit (process.exit), so the spec sees the actual exit status.
import { loadConfig, serverConfigSchema } from '../config';

loadConfig(serverConfigSchema('exittest', { port: 50051 }));
process.stdout.write('config ok\n');
