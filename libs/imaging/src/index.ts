export * from './lib/errors';
export * from './lib/hash';
export * from './lib/decode';
export * from './lib/encode';
export * from './lib/image-folder';
export * from './lib/idx';
export * from './lib/model-input';
