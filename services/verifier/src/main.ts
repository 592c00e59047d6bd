// The verifier's entry point: `node --import tsx services/verifier/src/main.ts`.
// Telemetry starts first (before grpc-js is loaded), then ./serve loads config and starts.
import { bootstrap } from '@glcert/telemetry';

void bootstrap('verifier', () => import('./serve'));
