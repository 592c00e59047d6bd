// Every pod and container of both overlays: probes, resources, security context, images, ports,
// disruption budgets, autoscalers, and references that must resolve (what the API server's
// schema does not check, or what kubectl apply would accept and then fail at run time).
import { parse as parseYaml } from 'yaml';
import {
  container,
  containersOf,
  find,
  ofKind,
  parseQuantity,
  podTemplate,
  podTemplates,
  renderOverlay,
  unresolvedReferences,
  type Container,
  type K8sObject,
  type PodTemplate,
} from './render';
import { selectorMatches } from './network-policy';

const SHUTDOWN_TIMER_SECONDS = 20; // the services' graceful-shutdown timer (STYLE.md)
const SERVICE_USER = 10001;
/** gRPC port of each glcert service container. */
const GRPC_PORTS: Record<string, number> = { certifier: 50051, sampler: 50052, inference: 50053, bounds: 50054, verifier: 50055 };

const label = (t: PodTemplate, c?: Container) => `${t.workload.kind}/${t.workload.metadata.name}${c ? `/${c.name}` : ''}`;
const isBatch = (t: PodTemplate) => t.workload.kind === 'Job';

describe.each(['cpu', 'gpu'] as const)('%s overlay: hardening', (overlay) => {
  const objects = renderOverlay(overlay);
  const pods = podTemplates(objects);
  const everyContainer = pods.flatMap((t) => containersOf(t.spec).map((c) => ({ t, ...c })));

  it('covers every workload: the five services, the collector and the Job', () => {
    expect(everyContainer.map(({ t, container: c }) => label(t, c)).sort()).toEqual([
      'Deployment/bounds/bounds',
      'Deployment/certifier/certifier',
      'Deployment/otel-collector/otel-collector',
      'Deployment/sampler/inference',
      'Deployment/sampler/sampler',
      'Deployment/verifier/verifier',
      'Job/certify-dataset/certify',
    ]);
  });

  describe('probes', () => {
    it('gives every container of every server pod (sidecars included) a readiness and a liveness probe', () => {
      for (const { t, container: c } of everyContainer.filter(({ t }) => !isBatch(t))) {
        expect([label(t, c), !!c.readinessProbe, !!c.livenessProbe]).toEqual([label(t, c), true, true]);
      }
    });

    it('uses native gRPC probes on each glcert service port, with a startup probe covering warm-up', () => {
      for (const { t, container: c } of everyContainer.filter(({ container: c }) => c.name in GRPC_PORTS)) {
        const port = GRPC_PORTS[c.name];
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) expect([label(t, c), probe?.grpc?.port]).toEqual([label(t, c), port]);
        expect(c.ports?.map((p) => [p.name?.startsWith('grpc'), p.containerPort])).toEqual([[true, port]]);
      }
    });

    it('runs no plain init containers (they cannot have probes): extra containers are native sidecars', () => {
      expect(everyContainer.filter(({ role }) => role === 'init').map(({ t, container: c }) => label(t, c))).toEqual([]);
    });

    it('exempts the Job pod from probes: a run-to-completion client, bounded by a deadline and per-index retries instead', () => {
      for (const t of pods.filter(isBatch)) {
        for (const { container: c } of containersOf(t.spec)) expect([c.readinessProbe, c.livenessProbe]).toEqual([undefined, undefined]);
        expect(t.workload.spec.activeDeadlineSeconds).toBeGreaterThan(0);
        expect(t.workload.spec.backoffLimitPerIndex).toBeGreaterThan(0);
        expect(t.spec.restartPolicy).toBe('Never');
      }
    });
  });

  it('gives every container CPU and memory requests and limits, requests within limits', () => {
    for (const { t, container: c } of everyContainer) {
      const { requests = {}, limits = {} } = c.resources ?? {};
      for (const r of ['cpu', 'memory']) {
        expect([label(t, c), r, requests[r] !== undefined, limits[r] !== undefined]).toEqual([label(t, c), r, true, true]);
        expect(parseQuantity(requests[r])).toBeLessThanOrEqual(parseQuantity(limits[r]));
      }
    }
  });

  describe('security', () => {
    it('runs every pod as the non-root service user with RuntimeDefault seccomp', () => {
      for (const t of pods) {
        const sc = t.spec.securityContext ?? {};
        expect([label(t), sc.runAsNonRoot, sc.runAsUser, sc.fsGroup, sc.seccompProfile?.type]).toEqual([label(t), true, SERVICE_USER, SERVICE_USER, 'RuntimeDefault']);
      }
    });

    it('locks down every container: no privilege escalation, read-only root, all capabilities dropped, never root', () => {
      for (const { t, container: c } of everyContainer) {
        const sc = c.securityContext ?? {};
        expect([label(t, c), sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.capabilities?.drop, sc.capabilities?.add, sc.privileged ?? false]).toEqual([
          label(t, c), false, true, ['ALL'], undefined, false,
        ]);
        expect(sc.runAsNonRoot).not.toBe(false);
        expect(sc.runAsUser ?? SERVICE_USER).not.toBe(0);
      }
    });

    it('gives every Node.js container a writable emptyDir /tmp (scratch space) since the root filesystem is read-only', () => {
      for (const { t, container: c } of everyContainer.filter(({ container: c }) => c.image.startsWith('glcert/'))) {
        const mount = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        const volume = t.spec.volumes?.find((v) => v.name === mount?.name);
        expect([label(t, c), !!volume?.emptyDir, !!mount?.readOnly]).toEqual([label(t, c), true, false]);
      }
    });

    it('mounts no service-account token and uses a dedicated ServiceAccount per workload', () => {
      const accounts = new Set(ofKind(objects, 'ServiceAccount').map((s) => s.metadata.name));
      for (const t of pods) {
        expect([label(t), t.spec.automountServiceAccountToken, accounts.has(t.spec.serviceAccountName ?? 'default')]).toEqual([label(t), false, true]);
        expect(t.spec.serviceAccountName).toBe(t.workload.metadata.name);
      }
    });

    it('enforces the restricted Pod Security Standard on the namespace', () => {
      expect(find(objects, 'Namespace', 'glcert').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    });
  });

  it('lets each server drain: terminationGracePeriodSeconds above the 20 s shutdown timer', () => {
    for (const t of pods) expect([label(t), (t.spec.terminationGracePeriodSeconds ?? 30) > SHUTDOWN_TIMER_SECONDS]).toEqual([label(t), true]);
    for (const t of pods.filter((p) => p.workload.metadata.name !== 'otel-collector' && !isBatch(p))) expect(t.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it('pins every image to an explicit tag, never latest', () => {
    for (const { t, container: c } of everyContainer) {
      const tag = /:([\w][\w.-]*)$/.exec(c.image.split('/').pop() ?? '')?.[1];
      expect([label(t, c), tag !== undefined && tag !== 'latest']).toEqual([label(t, c), true]);
    }
  });

  it('names ports validly: at most 15 characters, unique per pod, and Services target named grpc ports', () => {
    for (const t of pods) {
      const names = containersOf(t.spec).flatMap(({ container: c }) => (c.ports ?? []).map((p) => p.name ?? ''));
      expect(new Set(names).size).toBe(names.length);
      for (const n of names) expect(n).toMatch(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/);
    }
    for (const svc of ofKind(objects, 'Service')) {
      const backing = pods.filter((t) => selectorMatches({ matchLabels: svc.spec.selector }, t.labels));
      expect([svc.metadata.name, backing.length]).toEqual([svc.metadata.name, 1]);
      const ports = containersOf(backing[0].spec).flatMap(({ container: c }) => c.ports ?? []);
      for (const p of svc.spec.ports) {
        const target = ports.find((cp) => cp.name === p.targetPort);
        expect([svc.metadata.name, p.name, target?.containerPort]).toEqual([svc.metadata.name, p.name, p.port]);
        if (svc.metadata.name !== 'otel-collector') expect([p.name, p.targetPort]).toEqual(['grpc', 'grpc']);
      }
    }
  });

  it('has a PodDisruptionBudget for every Deployment, and HPAs (autoscaling/v2) for certifier and sampler', () => {
    const pdbs = ofKind(objects, 'PodDisruptionBudget');
    for (const d of ofKind(objects, 'Deployment')) {
      const t = podTemplate(objects, 'Deployment', d.metadata.name);
      const covering = pdbs.filter((p) => selectorMatches(p.spec.selector, t.labels));
      expect([d.metadata.name, covering.length]).toEqual([d.metadata.name, 1]);
      expect(covering[0].spec.maxUnavailable).toBe(1); // never blocks a drain, even at one replica
    }
    for (const name of ['certifier', 'sampler']) {
      const hpa = find(objects, 'HorizontalPodAutoscaler', name);
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      expect(find(objects, 'Deployment', name).spec.replicas).toBeUndefined(); // the HPA owns it
    }
    const samplerHpa = find(objects, 'HorizontalPodAutoscaler', 'sampler');
    for (const m of samplerHpa.spec.metrics) {
      if (m.type === 'ContainerResource') expect(container(podTemplate(objects, 'Deployment', 'sampler').spec, m.containerResource.container).name).toBeTruthy();
    }
  });

  it('resolves every reference: ConfigMaps, Secrets, claims, volume mounts and $(VAR) expansions', () => {
    const names = (kind: string) => new Set(ofKind(objects, kind).map((o) => o.metadata.name));
    const configMaps = names('ConfigMap');
    const secrets = names('Secret');
    const claims = names('PersistentVolumeClaim');
    for (const t of pods) {
      const volumes = new Set((t.spec.volumes ?? []).map((v) => v.name));
      for (const v of t.spec.volumes ?? []) {
        if (v.configMap) expect([label(t), v.configMap.name, configMaps.has(v.configMap.name)]).toEqual([label(t), v.configMap.name, true]);
        if (v.secret) expect(secrets.has(v.secret.secretName)).toBe(true);
        if (v.persistentVolumeClaim) expect(claims.has(v.persistentVolumeClaim.claimName)).toBe(true);
      }
      for (const { container: c } of containersOf(t.spec)) {
        for (const m of c.volumeMounts ?? []) expect([label(t, c), m.name, volumes.has(m.name)]).toEqual([label(t, c), m.name, true]);
        for (const e of c.envFrom ?? []) if (e.configMapRef) expect(configMaps.has(e.configMapRef.name)).toBe(true);
        expect([label(t, c), unresolvedReferences(c)]).toEqual([label(t, c), []]);
      }
    }
  });

  it('sends telemetry to the collector over OTLP/gRPC from every glcert container, each with its own service name', () => {
    const common = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('glcert-common-'));
    expect(common?.data).toEqual(expect.objectContaining({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }));
    const serviceNames = new Set<string>();
    for (const { t, container: c } of everyContainer.filter(({ container: c }) => c.image.startsWith('glcert/'))) {
      expect([label(t, c), c.envFrom?.some((e) => e.configMapRef?.name === common?.metadata.name)]).toEqual([label(t, c), true]);
      const name = c.env?.find((e) => e.name === 'OTEL_SERVICE_NAME')?.value;
      expect(name).toBeDefined();
      serviceNames.add(name as string);
    }
    expect(serviceNames.size).toBe(everyContainer.filter(({ container: c }) => c.image.startsWith('glcert/')).length);
  });

  it('runs a collector whose pipelines are complete and whose ports match its Service and probes', () => {
    const cm = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('otel-collector-config-')) as K8sObject & { data: Record<string, string> };
    const config = parseYaml(cm.data['collector.yaml']);
    for (const [name, pipeline] of Object.entries(config.service.pipelines) as [string, Record<string, string[]>][]) {
      for (const section of ['receivers', 'processors', 'exporters']) {
        for (const component of pipeline[section]) expect([name, section, component, component in config[section]]).toEqual([name, section, component, true]);
      }
      expect(pipeline.processors).toContain('batch');
      expect(pipeline.exporters).toContain('debug');
    }
    expect(Object.keys(config.exporters).some((e) => e === 'otlp' || e.startsWith('otlp/'))).toBe(true);
    const port = (endpoint: string) => Number(endpoint.split(':').pop());
    const collector = container(podTemplate(objects, 'Deployment', 'otel-collector').spec, 'otel-collector');
    const containerPorts = Object.fromEntries((collector.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect(port(config.receivers.otlp.protocols.grpc.endpoint)).toBe(containerPorts['otlp-grpc']);
    expect(port(config.receivers.otlp.protocols.http.endpoint)).toBe(containerPorts['otlp-http']);
    expect(port(config.extensions.health_check.endpoint)).toBe(containerPorts[collector.readinessProbe?.httpGet?.port as string]);
    expect(containerPorts['otlp-grpc']).toBe(4317);
    expect(containerPorts['otlp-http']).toBe(4318);
  });
});
