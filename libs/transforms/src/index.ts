export * from './lib/transform-spec';
export * from './lib/apply';
export * from './lib/threat-model';
