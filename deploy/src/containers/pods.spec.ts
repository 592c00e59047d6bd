// The cpu overlay translated for `podman kube play` (npm run test:containers runs it): what the
// manifests say about how each container runs must survive the translation.
import { renderOverlay, podTemplate, container as containerOf, type Container } from '../render';
import { localAddress, playablePods, type PlayablePod } from './pods';

const HOST_PATHS = { 'secret/glcert-signing-key': '/h/key', 'configMap/glcert-public-keys': '/h/pub', 'pvc/bounds-cache': '/h/cache' };
const objects = renderOverlay('cpu');
const pods = playablePods(objects, { portOffset: 100, hostPaths: HOST_PATHS, namePrefix: 'x-' });

function pod(name: string): PlayablePod {
  const p = pods.find((x) => x.metadata.name === `x-${name}`);
  if (!p) throw new Error(`no pod ${name}`);
  return p;
}
function env(c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((v) => [v.name, v.value ?? '']));
}

describe('playablePods (the cpu overlay for podman kube play)', () => {
  it('one Pod per glcert Deployment; sampler and inference share one, the sidecar first', () => {
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(['x-bounds', 'x-certifier', 'x-sampler', 'x-verifier']);
    const sampler = pod('sampler');
    expect(sampler.spec.containers.map((c) => c.name)).toEqual(['inference', 'sampler']);
    expect(sampler.spec.initContainers).toBeUndefined();
    expect(sampler.spec.containers.map((c) => c.restartPolicy)).toEqual([undefined, undefined]);
  });

  it('keeps images, user, read-only root, privileges and mounts exactly as the manifests have them', () => {
    for (const p of pods) {
      const name = p.metadata.name.slice(2);
      const template = podTemplate(objects, 'Deployment', name);
      expect(p.spec.hostNetwork).toBe(true);
      expect([name, p.spec.securityContext?.runAsUser, p.spec.securityContext?.runAsGroup]).toEqual([name, 10001, 10001]);
      for (const c of p.spec.containers) {
        const original = containerOf(template.spec, c.name);
        expect(c.image).toBe(original.image);
        expect(c.image).toMatch(/^glcert\/[\w-]+:dev$/);
        expect(c.securityContext).toEqual(original.securityContext);
        expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(c.volumeMounts).toEqual(original.volumeMounts);
        expect(c.resources).toEqual(original.resources);
        // kube play has no gRPC probes: the runner checks grpc.health.v1 itself
        expect([c.readinessProbe, c.livenessProbe, c.startupProbe]).toEqual([undefined, undefined, undefined]);
        expect((c as Container & { imagePullPolicy?: string }).imagePullPolicy).toBe('Never');
      }
    }
  });

  it('mounts the Secret, ConfigMap and PVC from host directories, and keeps emptyDir', () => {
    expect(pod('certifier').spec.volumes).toEqual(expect.arrayContaining([{ name: 'signing-key', hostPath: { path: '/h/key', type: 'Directory' } }]));
    expect(pod('verifier').spec.volumes).toEqual(expect.arrayContaining([{ name: 'public-keys', hostPath: { path: '/h/pub', type: 'Directory' } }]));
    expect(pod('bounds').spec.volumes).toEqual(expect.arrayContaining([{ name: 'cache', hostPath: { path: '/h/cache', type: 'Directory' } }]));
    for (const p of pods) for (const v of p.spec.volumes ?? []) expect([v.name, v.secret, v.configMap, v.persistentVolumeClaim]).toEqual([v.name, undefined, undefined, undefined]);
    expect(() => playablePods(objects, { portOffset: 0, hostPaths: {} })).toThrow(/needs a host directory for/);
  });

  it('resolves the environment as the kubelet does, then points Service names at 127.0.0.1 with ports moved together', () => {
    const certifier = env(pod('certifier').spec.containers[0]);
    expect(certifier.CERTIFIER_PORT).toBe('50151');
    expect(certifier.SAMPLER_ADDRS).toBe('127.0.0.1:50152');
    expect(certifier.BOUNDS_ADDR).toBe('127.0.0.1:50154');
    expect(certifier.CERTIFIER_SIGNING_KEY_FILE).toBe('/var/run/secrets/glcert/signing-key.pem');
    expect(certifier.OTEL_RESOURCE_ATTRIBUTES).toBe('k8s.pod.name=certifier,k8s.namespace.name=glcert');
    expect(certifier.OTEL_SERVICE_NAME).toBe('certifier');
    expect(certifier.LOG_LEVEL).toBeDefined(); // from the glcert-common ConfigMap (envFrom)
    expect(certifier.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined(); // no collector here
    const [inference, sampler] = pod('sampler').spec.containers.map(env);
    expect(inference.INFERENCE_PORT).toBe('50153');
    expect(sampler.INFERENCE_ADDR).toBe('127.0.0.1:50153');
    for (const p of pods) for (const c of p.spec.containers) for (const value of Object.values(env(c))) expect(value).not.toMatch(/svc\.cluster\.local|dns:\/\/\/|:5005[1-5]\b/);
  });

  it('localAddress rewrites only glcert service addresses', () => {
    expect(localAddress('dns:///sampler-headless.glcert.svc.cluster.local:50052', 0)).toBe('127.0.0.1:50052');
    expect(localAddress('bounds:50054,verifier:50055', 10)).toBe('127.0.0.1:50064,127.0.0.1:50065');
    expect(localAddress('http://otel-collector:4317', 10)).toBe('http://otel-collector:4317');
    expect(localAddress('/app/models', 10)).toBe('/app/models');
  });
});
