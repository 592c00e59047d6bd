// Lint is about architecture first: @nx/enforce-module-boundaries keeps the maths libs free of
// gRPC and native add-ons, the generated contracts free of dependencies, and services apart.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const GRPC_AND_NATIVE = ['@grpc/*', 'grpc-health-check', 'onnxruntime-node', 'sharp', '@opentelemetry/*'];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**', '.nx/**', 'libs/contracts/src/gen/**', 'tmp/**', 'models/**', 'data/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@nx': nx, '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          banTransitiveDependencies: false,
          // lazy loading is a front-end bundle concern; services load modules dynamically on purpose
          // (telemetry first, then the server), so mixed static/dynamic imports are fine here
          checkDynamicDependenciesExceptions: ['.*'],
          depConstraints: [
            // generated code depends on nothing of ours
            { sourceTag: 'type:gen', onlyDependOnLibsWithTags: [] },
            // pure maths: other maths only, and no gRPC, native add-ons or telemetry
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'], bannedExternalImports: GRPC_AND_NATIVE },
            // runtime, telemetry, imaging: may use contracts and maths
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:platform', 'type:core', 'type:gen'] },
            // services and tools wire libs together; they never import each other
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:platform', 'type:core', 'type:gen'] },
          ],
        },
      ],
    },
  },
];
