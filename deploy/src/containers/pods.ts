// The rendered cpu overlay as Pods that `podman kube play --network host` can run on one machine
// (npm run test:containers). Each Deployment's pod template becomes one Pod, keeping what the
// manifests say about how a container runs: the images, the sampler+inference pod, the merged
// environment (ConfigMap envFrom, downward API, $(VAR) references), uid/gid 10001, read-only root
// filesystem, no privilege escalation, dropped capabilities, the volume mounts and their
// read-only flags. What podman cannot do, or what exists only in a cluster, is translated:
//
// - native sidecars (init containers with restartPolicy Always): podman runs init containers to
//   completion first, so they become ordinary containers of the pod, listed first;
// - gRPC probes: not supported by kube play; the runner waits for grpc.health.v1 SERVING itself;
// - containerPorts: dropped (host network: each service listens on its *_PORT);
// - Service DNS names (bounds:50054, dns:///sampler-headless...:50052): 127.0.0.1 (host network),
//   and every glcert port moved by the same offset, so a stack already on 50051.. does not clash;
// - Secret, ConfigMap and PersistentVolumeClaim volumes: hostPath directories the runner fills
//   (the signing key, the public keys, an empty bound cache); emptyDir stays emptyDir;
// - OTLP export: there is no collector here, so the exporter endpoint is dropped (telemetry off).
import { containersOf, effectiveEnv, ofKind, podTemplates, type Container, type K8sObject, type PodSpec } from '../render';

/** The glcert service ports of the manifests. */
export const MANIFEST_PORTS = { certifier: 50051, sampler: 50052, inference: 50053, bounds: 50054, verifier: 50055 } as const;

export interface PlayOptions {
  /** Added to every glcert port (0: the manifests' own ports). */
  portOffset: number;
  /** Host directory per volume source: `secret/<name>`, `configMap/<name>`, `pvc/<claim>`. */
  hostPaths: Record<string, string>;
  /** Prepended to each Pod's name (podman pods are machine-wide). */
  namePrefix?: string;
  /** Deployments to turn into Pods (default: every glcert Deployment). */
  deployments?: string[];
  /** Namespace the downward API reports (default glcert). */
  namespace?: string;
}

export interface PlayablePod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: { name: string; labels: Record<string, string> };
  spec: PodSpec & { hostNetwork: boolean; restartPolicy: string };
}

const SERVICE_HOST = /(dns:\/\/\/)?\b([a-z0-9-]+(\.[a-z0-9-]+)*):(5005[1-5])\b/g;

/** `bounds:50054`, `dns:///sampler-headless.ns.svc.cluster.local:50052` -> 127.0.0.1 at the moved port. */
export function localAddress(value: string, portOffset: number): string {
  return value.replace(SERVICE_HOST, (_m, _dns, _host, _sub, port: string) => `127.0.0.1:${Number(port) + portOffset}`);
}

function configMapData(objects: K8sObject[], name: string): Record<string, string> {
  const cm = ofKind(objects, 'ConfigMap').find((o) => o.metadata.name === name);
  if (!cm) throw new Error(`envFrom names ConfigMap ${name}, which the overlay does not render`);
  return (cm['data'] as Record<string, string> | undefined) ?? {};
}

/** The container's environment as the kubelet gives it, then made local (see the header). */
export function playEnv(c: Container, objects: K8sObject[], pod: { name: string; namespace: string }, portOffset: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMapData(objects, from.configMapRef.name));
    else throw new Error(`container ${c.name}: envFrom other than configMapRef is not translated`);
  }
  Object.assign(env, effectiveEnv(c, pod));
  for (const key of Object.keys(env)) {
    if (/^OTEL_EXPORTER_OTLP(_TRACES)?_ENDPOINT$/.test(key)) delete env[key];
    else if (/_PORT$/.test(key) && Object.values(MANIFEST_PORTS).includes(Number(env[key]) as 50051)) env[key] = String(Number(env[key]) + portOffset);
    else env[key] = localAddress(env[key], portOffset);
  }
  return env;
}

function playContainer(c: Container, env: Record<string, string>): Container {
  // ports: on the host network a container listens where its *_PORT says; podman refuses port
  // mappings there
  const { startupProbe: _s, readinessProbe: _r, livenessProbe: _l, restartPolicy: _p, envFrom: _e, ports: _ports, ...rest } = c;
  return { ...rest, imagePullPolicy: 'Never', env: Object.entries(env).map(([name, value]) => ({ name, value })) } as Container;
}

export function playablePods(objects: K8sObject[], options: PlayOptions): PlayablePod[] {
  const namespace = options.namespace ?? 'glcert';
  const pods: PlayablePod[] = [];
  for (const t of podTemplates(objects)) {
    if (t.workload.kind !== 'Deployment') continue;
    const name = t.workload.metadata.name;
    if (options.deployments ? !options.deployments.includes(name) : !containersOf(t.spec).some((c) => c.container.image.startsWith('glcert/'))) continue;
    const pod = { name, namespace };
    const all = containersOf(t.spec);
    const inits = all.filter((c) => c.role === 'init').map((c) => playContainer(c.container, playEnv(c.container, objects, pod, options.portOffset)));
    const containers = [...all.filter((c) => c.role === 'sidecar'), ...all.filter((c) => c.role === 'main')].map((c) =>
      playContainer(c.container, playEnv(c.container, objects, pod, options.portOffset)),
    );
    const volumes = (t.spec.volumes ?? []).map((v) => {
      if (v.emptyDir) return { name: v.name, emptyDir: {} };
      const source = v.secret ? `secret/${v.secret.secretName}` : v.configMap ? `configMap/${v.configMap.name}` : v.persistentVolumeClaim ? `pvc/${v.persistentVolumeClaim.claimName}` : `volume ${v.name}`;
      const dir = options.hostPaths[source];
      if (!dir) throw new Error(`deployment ${name}: volume ${v.name} needs a host directory for ${source}`);
      return { name: v.name, hostPath: { path: dir, type: 'Directory' } };
    });
    const { securityContext } = t.spec;
    pods.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${options.namePrefix ?? ''}${name}`, labels: { ...t.labels } },
      spec: {
        hostNetwork: true,
        restartPolicy: 'Never',
        securityContext: securityContext && {
          runAsNonRoot: securityContext.runAsNonRoot,
          runAsUser: securityContext.runAsUser,
          runAsGroup: securityContext.runAsGroup,
        },
        terminationGracePeriodSeconds: t.spec.terminationGracePeriodSeconds,
        ...(inits.length > 0 ? { initContainers: inits } : {}),
        containers,
        volumes: volumes as PodSpec['volumes'],
      },
    });
  }
  return pods;
}
