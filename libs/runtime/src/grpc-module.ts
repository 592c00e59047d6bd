/**
 * The real `@grpc/grpc-js` exports object, for the instrumentation's patch. `import * as grpc`
 * can yield a copy with read-only getters instead (esbuild/tsx's CommonJS interop), which the
 * patch cannot redefine ("Cannot redefine property: makeGenericClientConstructor") and which
 * is not the object other modules use anyway.
 */
export const grpcExports: object = require('@grpc/grpc-js');
