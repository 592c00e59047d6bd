// Both overlays render with `kubectl kustomize`, and every rendered object passes the offline
// schema validator (kubernetes-models + unknown-field check), which itself rejects bad input.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEPLOY_ROOT, K8S_ROOT, OVERLAYS, ofKind, parseManifests, render, renderOverlay, type OverlayName } from './render';

const VALIDATE = path.join(DEPLOY_ROOT, 'src', 'validate.mjs');

function runValidate(...targets: string[]) {
  return spawnSync(process.execPath, [VALIDATE, ...targets], { encoding: 'utf8', timeout: 60_000 });
}

describe.each(Object.keys(OVERLAYS) as OverlayName[])('%s overlay renders', (overlay) => {
  const objects = renderOverlay(overlay);

  it('holds the whole system: five services, the collector, the Job and their plumbing', () => {
    const names = (kind: string) => ofKind(objects, kind).map((o) => o.metadata.name).sort();
    expect(names('Deployment')).toEqual(['bounds', 'certifier', 'otel-collector', 'sampler', 'verifier']);
    expect(names('Service')).toEqual(['bounds', 'certifier', 'otel-collector', 'sampler-headless', 'verifier']);
    expect(names('ServiceAccount')).toEqual(['bounds', 'certifier', 'certify-dataset', 'otel-collector', 'sampler', 'verifier']);
    expect(names('Job')).toEqual(['certify-dataset']);
    expect(names('HorizontalPodAutoscaler')).toEqual(['certifier', 'sampler']);
    expect(names('PersistentVolumeClaim')).toEqual(['bounds-cache', 'glcert-datasets', 'glcert-results']);
    expect(names('Secret')).toEqual(['glcert-signing-key']);
    expect(names('Namespace')).toEqual(['glcert']);
  });

  it('puts every namespaced object in the glcert namespace with the common labels', () => {
    for (const o of objects) {
      if (o.kind !== 'Namespace') expect(`${o.kind}/${o.metadata.name} in ${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name} in glcert`);
      expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('glcert');
      expect(o.metadata.labels?.['glcert.io/variant']).toBe(overlay);
    }
  });
});

describe('base', () => {
  it('renders on its own too', () => {
    expect(render(path.join(K8S_ROOT, 'base')).length).toBeGreaterThan(30);
  });
});

describe('validate.mjs (offline Kubernetes schema validation)', () => {
  it('passes both overlays', () => {
    const r = runValidate(OVERLAYS.cpu, OVERLAYS.gpu);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const total = renderOverlay('cpu').length;
    expect(r.stdout).toContain(`${OVERLAYS.cpu}: ${total}/${total} objects valid`);
  });

  describe('on broken manifests', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'glcert-validate-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('fails with the path and reason of each error, and on kinds it has no schema for', () => {
      const file = path.join(dir, 'broken.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: apps/v1',
          'kind: Deployment',
          'metadata: { name: broken }',
          'spec:',
          '  selector: { matchLabels: { a: b } }',
          '  template:',
          '    metadata: { labels: { a: b } }',
          '    spec:',
          '      containers:',
          '        - name: c',
          '          image: x:1',
          '          readinesProbe: { grpc: { port: 50051 } }', // misspelt field
          '          livenessProbe: { grpc: { port: grpc } }', // grpc probes need a number
          '---',
          'apiVersion: example.com/v1',
          'kind: Widget',
          'metadata: { name: w }',
        ].join('\n'),
      );
      const r = runValidate(file);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('apps/v1 Deployment broken: /spec/template/spec/containers/0/readinesProbe: unknown field "readinesProbe"');
      expect(r.stderr).toContain('apps/v1 Deployment broken: /spec/template/spec/containers/0/livenessProbe/grpc/port: must be integer');
      expect(r.stderr).toContain('example.com/v1 Widget w: unknown kind');
    });

    it('exits 2 on a missing target', () => {
      expect(runValidate(path.join(dir, 'nope')).status).toBe(2);
    });
  });
});

describe('parseManifests', () => {
  it('skips empty documents and rejects YAML errors', () => {
    expect(parseManifests('---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n')).toHaveLength(1);
    expect(() => parseManifests('a: [1, 2\n')).toThrow(/YAML/);
  });
});
