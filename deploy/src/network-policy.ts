// A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), enough to ask
// "may this pod open a connection to that pod on this port?" of the rendered manifests:
// a pod is isolated for a direction once any policy of its namespace selects it with that
// policyType; then a connection needs one rule allowing it on each isolated side (the source's
// egress, the destination's ingress). Peers are podSelector / namespaceSelector / both / ipBlock.
import type { K8sObject, Labels } from './render';

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: PolicyPort[];
}

/** A pod in the cluster, or an endpoint outside it (`pod: null`). */
export type Endpoint =
  | { pod: { namespace: string; namespaceLabels: Labels; labels: Labels; ports?: { name?: string; containerPort: number; protocol?: string }[] } }
  | { pod: null };

export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key]) :
      e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key]) :
      e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

function peerMatches(peer: PolicyPeer, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) return other.pod === null; // pod IPs are normally excluded from ipBlocks; outside endpoints match
  if (other.pod === null) return false;
  const nsOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, other.pod.namespaceLabels) : other.pod.namespace === policyNamespace;
  return nsOk && selectorMatches(peer.podSelector, other.pod.labels);
}

function portMatches(ports: PolicyPort[] | undefined, port: number, protocol: string, destination: Endpoint): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.endPort ? port >= p.port && port <= p.endPort : port === p.port;
    // a named port means the destination pod's container port of that name
    return destination.pod !== null && (destination.pod.ports ?? []).some((cp) => cp.name === p.port && cp.containerPort === port && (cp.protocol ?? 'TCP') === protocol);
  });
}

function policiesSelecting(policies: K8sObject[], endpoint: Endpoint, type: 'Ingress' | 'Egress'): K8sObject[] {
  if (endpoint.pod === null) return [];
  const pod = endpoint.pod;
  return policies.filter((p) => {
    const types: string[] = p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
    return (p.metadata.namespace ?? 'default') === pod.namespace && types.includes(type) && selectorMatches(p.spec.podSelector, pod.labels);
  });
}

/** Whether `source` may connect to `destination` on `port`/`protocol` under `policies`. */
export function connectionAllowed(policies: K8sObject[], source: Endpoint, destination: Endpoint, port: number, protocol = 'TCP'): boolean {
  const egressPolicies = policiesSelecting(policies, source, 'Egress');
  const egressOk =
    egressPolicies.length === 0 ||
    egressPolicies.some((p) =>
      ((p.spec.egress ?? []) as PolicyRule[]).some(
        (r) => (!r.to || r.to.length === 0 || r.to.some((peer) => peerMatches(peer, p.metadata.namespace ?? 'default', destination))) && portMatches(r.ports, port, protocol, destination),
      ),
    );
  const ingressPolicies = policiesSelecting(policies, destination, 'Ingress');
  const ingressOk =
    ingressPolicies.length === 0 ||
    ingressPolicies.some((p) =>
      ((p.spec.ingress ?? []) as PolicyRule[]).some(
        (r) => (!r.from || r.from.length === 0 || r.from.some((peer) => peerMatches(peer, p.metadata.namespace ?? 'default', source))) && portMatches(r.ports, port, protocol, destination),
      ),
    );
  return egressOk && ingressOk;
}
