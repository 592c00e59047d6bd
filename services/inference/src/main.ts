// The inference sidecar's entry point: `node --import tsx services/inference/src/main.ts`.
// Telemetry starts first (before grpc-js is loaded); then ./serve reads and validates the
// configuration (exit 78 when invalid) and starts the server, which handles SIGTERM/SIGINT.
import { bootstrap } from '@glcert/telemetry';

void bootstrap('inference', () => import('./serve'));
