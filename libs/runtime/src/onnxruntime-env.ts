// onnxruntime 1.29+ ships 1DS telemetry on Linux and macOS: a process that creates a session
// resolves and posts to Microsoft's event endpoint (mobile.events.data.microsoft.com) every few
// seconds. A certification service must not phone home, and the DNS lookups and uploads cost a
// little CPU on the cores the forward passes need. ORT_DISABLE_TELEMETRY=1 is onnxruntime's own
// full opt-out, read once when it initialises its environment (at the first session), so it
// must be set before any session is created; it is process-wide, so worker threads see it.

/** The variable onnxruntime reads for its telemetry opt-out. */
export const ORT_TELEMETRY_ENV = 'ORT_DISABLE_TELEMETRY';

/**
 * Opts this process out of onnxruntime's telemetry unless the operator set ORT_DISABLE_TELEMETRY
 * (any value, e.g. 0 to keep it). Call before the first InferenceSession. Returns the value in force.
 */
export function optOutOfOnnxRuntimeTelemetry(env: NodeJS.ProcessEnv = process.env): string {
  env[ORT_TELEMETRY_ENV] ??= '1';
  return env[ORT_TELEMETRY_ENV];
}
