// Render the Kustomize overlays with `kubectl kustomize` and read the result as plain objects,
// plus the small typed views the deployment tests need (pod templates, containers, env).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const DEPLOY_ROOT = path.resolve(__dirname, '..');
export const REPO_ROOT = path.resolve(DEPLOY_ROOT, '..');
export const K8S_ROOT = path.join(DEPLOY_ROOT, 'k8s');
export const OVERLAYS = {
  cpu: path.join(K8S_ROOT, 'overlays', 'cpu'),
  gpu: path.join(K8S_ROOT, 'overlays', 'gpu'),
} as const;
export type OverlayName = keyof typeof OVERLAYS;

export type Labels = Record<string, string>;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}

/** Any rendered object. `spec` and the rest stay loosely typed; use the views below to read them. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  [field: string]: unknown;
}

export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path?: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
  configMap?: { name: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  nodeSelector?: Labels;
  affinity?: any;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    seccompProfile?: { type: string };
  };
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
}

/** A workload's pod template: Deployments and Jobs here. */
export interface PodTemplate {
  workload: K8sObject;
  labels: Labels;
  spec: PodSpec;
}

/** How a container runs in its pod. */
export type ContainerRole = 'main' | 'sidecar' | 'init';

export function kustomize(dir: string): string {
  try {
    return execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('kubectl not found on PATH: it renders the Kustomize overlays (`kubectl kustomize`)');
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Multi-document YAML to objects; empty documents are skipped, YAML errors throw. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`a document is not an object: ${JSON.stringify(value).slice(0, 80)}`);
    objects.push(value as K8sObject);
  }
  return objects;
}

const rendered = new Map<string, K8sObject[]>();

/** The objects of a kustomization directory (rendered once per process). */
export function render(dir: string): K8sObject[] {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = parseManifests(kustomize(dir));
    rendered.set(dir, objects);
  }
  return objects;
}

export function renderOverlay(name: OverlayName): K8sObject[] {
  return render(OVERLAYS[name]);
}

export function ofKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in the rendered manifests`);
  return found;
}

/** Pod templates of every workload kind used here (Deployment, Job, StatefulSet, DaemonSet). */
export function podTemplates(objects: K8sObject[]): PodTemplate[] {
  return objects
    .filter((o) => ['Deployment', 'Job', 'StatefulSet', 'DaemonSet'].includes(o.kind))
    .map((o) => ({ workload: o, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec as PodSpec }));
}

export function podTemplate(objects: K8sObject[], kind: string, name: string): PodTemplate {
  const t = podTemplates(objects).find((p) => p.workload.kind === kind && p.workload.metadata.name === name);
  if (!t) throw new Error(`no ${kind} named ${name} with a pod template`);
  return t;
}

/** Every container of a pod with its role: native sidecars are init containers with restartPolicy Always. */
export function containersOf(spec: PodSpec): { container: Container; role: ContainerRole }[] {
  return [
    ...(spec.initContainers ?? []).map((c) => ({ container: c, role: (c.restartPolicy === 'Always' ? 'sidecar' : 'init') as ContainerRole })),
    ...spec.containers.map((c) => ({ container: c, role: 'main' as ContainerRole })),
  ];
}

export function container(spec: PodSpec, name: string): Container {
  const c = containersOf(spec).find((x) => x.container.name === name);
  if (!c) throw new Error(`no container named ${name}`);
  return c.container;
}

/**
 * A container's environment as the kubelet would give it: literal values with `$(VAR)`
 * references to earlier variables expanded, and the downward-API fields these manifests use.
 * An unresolvable reference stays literal, exactly as Kubernetes leaves it.
 */
export function effectiveEnv(c: Container, pod: { namespace: string; name?: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => env[name] ?? ref);
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = pod.namespace;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = pod.name ?? 'pod-0';
  }
  return env;
}

/** `$(VAR)` references in a container's env values, command and args that name no earlier env var. */
export function unresolvedReferences(c: Container): string[] {
  const defined = new Set<string>();
  const missing: string[] = [];
  const check = (text: string, where: string) => {
    for (const m of text.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) if (!defined.has(m[1])) missing.push(`${where}: $(${m[1]})`);
  };
  for (const v of c.env ?? []) {
    if (v.value !== undefined) check(v.value, `env ${v.name}`);
    defined.add(v.name);
  }
  for (const [i, a] of (c.command ?? []).entries()) check(a, `command[${i}]`);
  for (const [i, a] of (c.args ?? []).entries()) check(a, `args[${i}]`);
  return missing;
}

/** Kubernetes resource quantities in base units (cores, bytes, devices). */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  const factor: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[2] ? factor[m[2]] : 1);
}
