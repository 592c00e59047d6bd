// Where things run and how they find each other, read from the rendered overlays: GPU placement
// of the sampler+inference pod, CPU-only elsewhere, the sidecar on loopback, the headless
// sampler Service behind SAMPLER_ADDRS, the signing key, the bound cache and the sharded Job.
import {
  container,
  containersOf,
  effectiveEnv,
  find,
  ofKind,
  parseQuantity,
  podTemplate,
  podTemplates,
  renderOverlay,
  type Container,
  type K8sObject,
  type PodSpec,
  type PodTemplate,
} from './render';
import { selectorMatches } from './network-policy';

const GPU = 'nvidia.com/gpu';
const GPU_NODE_LABEL = 'nvidia.com/gpu.present';
const NS = 'glcert';

const gpuLimit = (c: Container) => parseQuantity(c.resources?.limits?.[GPU] ?? 0);
const gpuRequested = (c: Container) => gpuLimit(c) > 0 || parseQuantity(c.resources?.requests?.[GPU] ?? 0) > 0;
const toleratesGpu = (spec: PodSpec) =>
  (spec.tolerations ?? []).some((t) => t.key === GPU && (t.effect === 'NoSchedule' || t.effect === undefined) && (t.operator === 'Exists' || t.operator === 'Equal'));

/** Required node-affinity terms (ORed), each a list of match expressions (ANDed). */
function requiredTerms(spec: PodSpec): { key: string; operator: string; values?: string[] }[][] {
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms.map((t: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }) => t.matchExpressions ?? []);
}

/** Whether the pod can only land on GPU nodes (nodeSelector, or every required affinity term asks for the label). */
function selectsGpuNodes(spec: PodSpec): boolean {
  if (spec.nodeSelector?.[GPU_NODE_LABEL] === 'true') return true;
  const terms = requiredTerms(spec);
  return terms.length > 0 && terms.every((t) => t.some((e) => e.key === GPU_NODE_LABEL && e.operator === 'In' && (e.values ?? []).includes('true')));
}

/** Whether the pod is kept off GPU nodes (every required term excludes the GPU label). */
function avoidsGpuNodes(spec: PodSpec): boolean {
  const terms = requiredTerms(spec);
  return (
    terms.length > 0 &&
    terms.every((t) => t.some((e) => e.key === GPU_NODE_LABEL && (e.operator === 'DoesNotExist' || (e.operator === 'NotIn' && (e.values ?? []).includes('true')))))
  );
}

const name = (t: PodTemplate) => `${t.workload.kind}/${t.workload.metadata.name}`;

/** The pod template holding a container of this name (exactly one). */
function podWith(objects: K8sObject[], containerName: string): PodTemplate {
  const pods = podTemplates(objects).filter((t) => containersOf(t.spec).some((c) => c.container.name === containerName));
  expect(pods.map(name)).toHaveLength(1);
  return pods[0];
}

function minReplicas(objects: K8sObject[], deployment: string): number {
  const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === deployment);
  return hpa ? hpa.spec.minReplicas : (find(objects, 'Deployment', deployment).spec.replicas ?? 1);
}

describe('gpu overlay: placement', () => {
  const objects = renderOverlay('gpu');
  const sampler = podWith(objects, 'sampler');

  it('runs sampler and inference in one pod, inference as a native sidecar', () => {
    expect(podWith(objects, 'inference').workload).toBe(sampler.workload);
    const roles = Object.fromEntries(containersOf(sampler.spec).map((c) => [c.container.name, c.role]));
    expect(roles).toEqual({ inference: 'sidecar', sampler: 'main' });
  });

  it('gives the inference container one GPU, and the sampler none', () => {
    expect(gpuLimit(container(sampler.spec, 'inference'))).toBe(1);
    expect(gpuRequested(container(sampler.spec, 'sampler'))).toBe(false);
  });

  it('schedules the sampler pod on GPU nodes and tolerates their taint', () => {
    expect(selectsGpuNodes(sampler.spec)).toBe(true);
    expect(toleratesGpu(sampler.spec)).toBe(true);
  });

  it('runs the CUDA inference image with CUDA first, CPU as fallback', () => {
    const inference = container(sampler.spec, 'inference');
    expect(inference.image).toMatch(/^glcert\/inference-gpu:/);
    expect(effectiveEnv(inference, { namespace: NS }).INFERENCE_EXECUTION_PROVIDERS).toBe('cuda,cpu');
  });

  it('keeps every other pod off GPU nodes, without GPUs or the GPU toleration', () => {
    const others = podTemplates(objects).filter((t) => t.workload !== sampler.workload);
    expect(others.map(name).sort()).toEqual(['Deployment/bounds', 'Deployment/certifier', 'Deployment/otel-collector', 'Deployment/verifier', 'Job/certify-dataset']);
    for (const t of others) {
      expect([name(t), avoidsGpuNodes(t.spec), toleratesGpu(t.spec)]).toEqual([name(t), true, false]);
      for (const { container: c } of containersOf(t.spec)) expect([name(t), c.name, gpuRequested(c)]).toEqual([name(t), c.name, false]);
    }
  });

  it('runs more replicas and shards than the laptop overlay', () => {
    const cpu = renderOverlay('cpu');
    for (const d of ['sampler', 'certifier', 'verifier']) expect(minReplicas(objects, d)).toBeGreaterThan(minReplicas(cpu, d));
    expect(find(objects, 'Job', 'certify-dataset').spec.completions).toBeGreaterThan(find(cpu, 'Job', 'certify-dataset').spec.completions);
  });
});

describe('cpu overlay: placement', () => {
  const objects = renderOverlay('cpu');

  it('requests no GPU anywhere, selects no GPU nodes and tolerates no GPU taint', () => {
    for (const t of podTemplates(objects)) {
      expect([name(t), selectsGpuNodes(t.spec), toleratesGpu(t.spec), JSON.stringify(t.spec).includes('nvidia.com')]).toEqual([name(t), false, false, false]);
      for (const { container: c } of containersOf(t.spec)) expect([c.name, gpuRequested(c)]).toEqual([c.name, false]);
    }
  });

  it('runs inference on CPU from the CPU image, in the sampler pod', () => {
    const sampler = podWith(objects, 'sampler');
    const inference = container(sampler.spec, 'inference');
    expect(inference.image).toMatch(/^glcert\/inference:/);
    expect(effectiveEnv(inference, { namespace: NS }).INFERENCE_EXECUTION_PROVIDERS).toBe('cpu');
  });

  it('runs one replica of everything', () => {
    for (const d of ofKind(objects, 'Deployment')) expect([d.metadata.name, minReplicas(objects, d.metadata.name)]).toEqual([d.metadata.name, 1]);
  });
});

describe.each(['cpu', 'gpu'] as const)('%s overlay: wiring', (overlay) => {
  const objects = renderOverlay(overlay);
  const sampler = podTemplate(objects, 'Deployment', 'sampler');

  it('has the sampler reach inference over loopback on the sidecar port, and nothing publish that port', () => {
    const inference = container(sampler.spec, 'inference');
    const inferenceEnv = effectiveEnv(inference, { namespace: NS });
    expect(effectiveEnv(container(sampler.spec, 'sampler'), { namespace: NS }).INFERENCE_ADDR).toBe(`127.0.0.1:${inferenceEnv.INFERENCE_PORT}`);
    expect(inference.ports?.map((p) => p.containerPort)).toEqual([Number(inferenceEnv.INFERENCE_PORT)]);
    for (const svc of ofKind(objects, 'Service')) {
      for (const p of svc.spec.ports) expect([svc.metadata.name, p.targetPort]).not.toEqual([svc.metadata.name, Number(inferenceEnv.INFERENCE_PORT)]);
    }
  });

  it('exposes the sampler pods through a headless Service, and points the certifier and verifier at it with dns:///', () => {
    const headless = find(objects, 'Service', 'sampler-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(selectorMatches({ matchLabels: headless.spec.selector }, sampler.labels)).toBe(true);
    expect(headless.spec.ports).toEqual([expect.objectContaining({ name: 'grpc', port: 50052, targetPort: 'grpc' })]);
    expect(container(sampler.spec, 'sampler').ports).toContainEqual(expect.objectContaining({ name: 'grpc', containerPort: 50052 }));
    for (const client of ['certifier', 'verifier']) {
      const env = effectiveEnv(container(podTemplate(objects, 'Deployment', client).spec, client), { namespace: NS });
      expect(env.SAMPLER_ADDRS).toBe(`dns:///sampler-headless.${NS}.svc.cluster.local:50052`);
      expect(env.BOUNDS_ADDR).toBe('bounds:50054');
    }
  });

  it('mounts the signing key Secret read-only where CERTIFIER_SIGNING_KEY_FILE points, and ships no key material', () => {
    const certifier = podTemplate(objects, 'Deployment', 'certifier');
    const c = container(certifier.spec, 'certifier');
    const keyFile = effectiveEnv(c, { namespace: NS }).CERTIFIER_SIGNING_KEY_FILE;
    const mount = c.volumeMounts?.find((m) => keyFile.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = certifier.spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('glcert-signing-key');
    expect(volume?.secret?.items).toEqual([{ key: 'signing-key.pem', path: keyFile.slice(mount!.mountPath.length + 1) }]);
    const secret = find(objects, 'Secret', 'glcert-signing-key');
    expect(secret.data).toBeUndefined();
    expect(secret.stringData).toBeUndefined();
  });

  it('mounts the trusted public keys ConfigMap read-only where VERIFIER_PUBLIC_KEYS_DIR points, and ships no key', () => {
    const verifier = podTemplate(objects, 'Deployment', 'verifier');
    const c = container(verifier.spec, 'verifier');
    const dir = effectiveEnv(c, { namespace: NS }).VERIFIER_PUBLIC_KEYS_DIR;
    const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
    expect(mount?.readOnly).toBe(true);
    const volume = verifier.spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe('glcert-public-keys');
    const keys = find(objects, 'ConfigMap', 'glcert-public-keys');
    expect(keys.data).toBeUndefined();
  });

  it('keeps the bound cache on a persistent volume, with Recreate for its ReadWriteOnce claim', () => {
    const bounds = podTemplate(objects, 'Deployment', 'bounds');
    const c = container(bounds.spec, 'bounds');
    const dir = effectiveEnv(c, { namespace: NS }).BOUNDS_CACHE_DIR;
    const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
    const claim = bounds.spec.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    const pvc = find(objects, 'PersistentVolumeClaim', claim ?? '<none>');
    if (pvc.spec.accessModes.includes('ReadWriteOnce')) {
      expect(bounds.workload.spec.strategy.type).toBe('Recreate');
      expect(bounds.workload.spec.replicas).toBe(1);
    }
  });

  it('certifies the dataset in N shards with an Indexed Job against the certifier Service', () => {
    const job = find(objects, 'Job', 'certify-dataset');
    const spec = job.spec;
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.parallelism).toBeLessThanOrEqual(spec.completions);
    expect(spec.template.spec.restartPolicy).toBe('Never');
    const c = container(spec.template.spec, 'certify');
    const shards = c.env?.find((e) => e.name === 'SHARD_COUNT')?.value;
    expect(Number(shards)).toBe(spec.completions);
    expect(c.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    expect([...(c.command ?? []), ...(c.args ?? [])]).toEqual([
      'node', 'tools/cli/bin/glcert.js', 'certify-dataset', '/data/mnist-test',
      '--shard', '$(JOB_COMPLETION_INDEX)/$(SHARD_COUNT)',
      '--out', '/results/shard-$(JOB_COMPLETION_INDEX).jsonl',
      '--certifier', 'certifier:50051',
    ]);
    expect(find(objects, 'Service', 'certifier').spec.ports).toContainEqual(expect.objectContaining({ port: 50051 }));
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    expect(mounts['/data']?.readOnly).toBe(true);
    expect(mounts['/results']?.readOnly).toBeFalsy();
    const claims = Object.fromEntries((spec.template.spec.volumes ?? []).map((v: { name: string; persistentVolumeClaim?: { claimName: string } }) => [v.name, v.persistentVolumeClaim?.claimName]));
    expect(find(objects, 'PersistentVolumeClaim', claims[mounts['/results'].name]).kind).toBe('PersistentVolumeClaim');
    expect(find(objects, 'PersistentVolumeClaim', claims[mounts['/data'].name]).kind).toBe('PersistentVolumeClaim');
  });

  it('creates the Job suspended, so applying the manifests starts no work', () => {
    expect(find(objects, 'Job', 'certify-dataset').spec.suspend).toBe(true);
  });
});
