// The certifier process: telemetry first (before grpc-js loads), then the service module.
import { bootstrap } from '@glcert/telemetry';

void bootstrap('certifier', () => import('./serve'));
