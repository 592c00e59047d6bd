// @glcert/deploy: helpers that render and inspect the Kubernetes manifests and the Dockerfile.
// The offline schema validator is the ESM script src/validate.mjs (kubernetes-models is ESM only).
export * from './render';
export * from './network-policy';
export * from './dockerfile';
