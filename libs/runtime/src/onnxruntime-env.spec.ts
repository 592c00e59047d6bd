import { optOutOfOnnxRuntimeTelemetry, ORT_TELEMETRY_ENV } from './onnxruntime-env';

describe('optOutOfOnnxRuntimeTelemetry', () => {
  it('sets ORT_DISABLE_TELEMETRY=1 when the operator left it unset', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(optOutOfOnnxRuntimeTelemetry(env)).toBe('1');
    expect(env[ORT_TELEMETRY_ENV]).toBe('1');
    expect(ORT_TELEMETRY_ENV).toBe('ORT_DISABLE_TELEMETRY');
  });

  it("keeps the operator's own value", () => {
    const env: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '0' };
    expect(optOutOfOnnxRuntimeTelemetry(env)).toBe('0');
    expect(env[ORT_TELEMETRY_ENV]).toBe('0');
  });
});
