export * from './lib/transform-spec';
