// The rendered NetworkPolicies, evaluated: over every (source, destination, port) of the system
// plus outsiders, exactly the intended connections are allowed and nothing else.
import { connectionAllowed, type Endpoint } from './network-policy';
import { containersOf, ofKind, podTemplates, renderOverlay, type K8sObject } from './render';

const NS = 'glcert';

function podsOf(objects: K8sObject[]): Record<string, Endpoint> {
  const pods: Record<string, Endpoint> = {};
  for (const t of podTemplates(objects)) {
    pods[t.workload.metadata.name] = {
      pod: {
        namespace: NS,
        namespaceLabels: { 'kubernetes.io/metadata.name': NS },
        labels: t.labels,
        ports: containersOf(t.spec).flatMap(({ container: c }) => c.ports ?? []),
      },
    };
  }
  return pods;
}

const outsiders: Record<string, Endpoint> = {
  // a pod of this namespace that no workload owns (kubectl run, a debug pod)
  stray: { pod: { namespace: NS, namespaceLabels: { 'kubernetes.io/metadata.name': NS }, labels: { run: 'debug' } } },
  // a client in another namespace, and one outside the cluster
  'other-namespace': { pod: { namespace: 'apps', namespaceLabels: { 'kubernetes.io/metadata.name': 'apps' }, labels: { app: 'web' } } },
  internet: { pod: null },
  'kube-dns': { pod: { namespace: 'kube-system', namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' }, labels: { 'k8s-app': 'kube-dns' } } },
};

/** Destinations: every port something might listen on. */
const TARGETS: [string, number, string][] = [
  ['certifier', 50051, 'TCP'],
  ['sampler', 50052, 'TCP'],
  ['sampler', 50053, 'TCP'], // the inference sidecar: loopback only
  ['bounds', 50054, 'TCP'],
  ['verifier', 50055, 'TCP'],
  ['otel-collector', 4317, 'TCP'],
  ['otel-collector', 4318, 'TCP'],
  ['otel-collector', 13133, 'TCP'], // health endpoint: kubelet only (node traffic is always allowed)
  ['kube-dns', 53, 'UDP'],
  ['kube-dns', 53, 'TCP'],
  ['internet', 443, 'TCP'],
  ['internet', 4317, 'TCP'],
];

const WORKLOADS = ['certifier', 'sampler', 'bounds', 'verifier', 'otel-collector', 'certify-dataset'];

function expected(): Set<string> {
  const allow = new Set<string>();
  const add = (src: string, dst: string, port: number, proto = 'TCP') => allow.add(`${src} -> ${dst}:${port}/${proto}`);
  // clients (anything outside the namespace, and the Job) -> the public fronts
  for (const client of ['other-namespace', 'internet', 'kube-dns', 'certify-dataset']) add(client, 'certifier', 50051);
  for (const client of ['other-namespace', 'internet', 'kube-dns']) add(client, 'verifier', 50055);
  // the orchestrators -> their dependencies
  for (const caller of ['certifier', 'verifier']) {
    add(caller, 'bounds', 50054);
    add(caller, 'sampler', 50052);
  }
  // every pod of the namespace (a stray debug pod too) -> telemetry and DNS
  for (const w of [...WORKLOADS, 'stray']) {
    if (w !== 'otel-collector') add(w, 'otel-collector', 4317);
    if (w !== 'otel-collector') add(w, 'otel-collector', 4318);
    add(w, 'kube-dns', 53, 'UDP');
    add(w, 'kube-dns', 53, 'TCP');
  }
  // the collector -> its export backend, wherever it is
  add('otel-collector', 'internet', 443);
  add('otel-collector', 'internet', 4317);
  return allow;
}

describe.each(['cpu', 'gpu'] as const)('%s overlay: NetworkPolicies', (overlay) => {
  const objects = renderOverlay(overlay);
  const policies = ofKind(objects, 'NetworkPolicy');
  const endpoints = { ...podsOf(objects), ...outsiders };

  it('deny all ingress and egress by default', () => {
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress);
    expect(deny?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('give every workload its own policy for both directions', () => {
    for (const t of podTemplates(objects)) {
      const own = policies.filter((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === t.labels['app.kubernetes.io/name']);
      expect([t.workload.metadata.name, own.length, own[0]?.spec.policyTypes]).toEqual([t.workload.metadata.name, 1, ['Ingress', 'Egress']]);
    }
  });

  it('allow exactly the intended connections', () => {
    const allowed = new Set<string>();
    for (const [src, from] of Object.entries(endpoints)) {
      for (const [dst, port, proto] of TARGETS) {
        if (src === dst) continue; // inside a pod, traffic is loopback and never filtered
        if (from.pod?.namespace !== NS && endpoints[dst].pod?.namespace !== NS) continue; // not ours to decide
        if (connectionAllowed(policies, from, endpoints[dst], port, proto)) allowed.add(`${src} -> ${dst}:${port}/${proto}`);
      }
    }
    expect([...allowed].sort()).toEqual([...expected()].sort());
  });
});

describe('the NetworkPolicy evaluator', () => {
  const pod = (labels: Record<string, string>, namespace = 'ns'): Endpoint => ({ pod: { namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, labels } });
  const policy = (spec: object): K8sObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'ns' }, spec });
  const a = pod({ app: 'a' });
  const b = pod({ app: 'b' });

  it('allows everything when no policy selects a pod', () => {
    expect(connectionAllowed([], a, b, 80)).toBe(true);
  });

  it('isolates a selected pod and admits only matching peers and ports', () => {
    const only = policy({ podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] });
    expect(connectionAllowed([only], a, b, 80)).toBe(true);
    expect(connectionAllowed([only], a, b, 81)).toBe(false);
    expect(connectionAllowed([only], pod({ app: 'c' }), b, 80)).toBe(false);
    expect(connectionAllowed([only], pod({ app: 'a' }, 'other'), b, 80)).toBe(false);
  });

  it('requires the egress side too once the source is isolated', () => {
    const denyEgress = policy({ podSelector: {}, policyTypes: ['Egress'] });
    expect(connectionAllowed([denyEgress], a, b, 80)).toBe(false);
    expect(connectionAllowed([denyEgress], pod({ app: 'a' }, 'elsewhere'), b, 80)).toBe(true);
  });

  it('matches namespaceSelector AND podSelector in one peer', () => {
    const dns = policy({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { k: 'dns' } } }] }] });
    expect(connectionAllowed([dns], a, pod({ k: 'dns' }, 'kube-system'), 53)).toBe(true);
    expect(connectionAllowed([dns], a, pod({ k: 'other' }, 'kube-system'), 53)).toBe(false);
    expect(connectionAllowed([dns], a, pod({ k: 'dns' }, 'ns'), 53)).toBe(false);
  });
});
