import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, env, readConfig, type ConfigProblem } from './config';

/**
 * Optional mutual TLS between the services (docs/security.md). Set all three files and every
 * server started by `startService` asks for and verifies a client certificate, and every
 * client made by `createClient` presents its own and verifies the server's; set none and both
 * sides stay plaintext. Only some set is a configuration error (exit 78 at start).
 *
 * | variable | meaning |
 * |---|---|
 * | GLCERT_TLS_CERT_FILE | this process's certificate chain, PEM (used as server and as client) |
 * | GLCERT_TLS_KEY_FILE | its private key, PEM |
 * | GLCERT_TLS_CA_FILE | the CA bundle, PEM, that peers' certificates must chain to |
 * | GLCERT_TLS_SERVER_NAME | optional: the name clients expect in server certificates instead of the dialled host |
 */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Overrides the host name checked against server certificates (`grpc.ssl_target_name_override`). */
  serverName?: string;
}

export function tlsConfigSchema() {
  return {
    certFile: env.string('GLCERT_TLS_CERT_FILE', { optional: true }),
    keyFile: env.string('GLCERT_TLS_KEY_FILE', { optional: true }),
    caFile: env.string('GLCERT_TLS_CA_FILE', { optional: true }),
    serverName: env.string('GLCERT_TLS_SERVER_NAME', { optional: true }),
  };
}

/** The TLS files named by the environment; undefined when none is set. Throws ConfigError when only some are. */
export function tlsFromEnv(source: NodeJS.ProcessEnv = process.env): TlsFiles | undefined {
  const c = readConfig(tlsConfigSchema(), source);
  const given = [c.certFile, c.keyFile, c.caFile].filter((v) => v !== undefined).length;
  if (given === 0) {
    if (c.serverName !== undefined) throw new ConfigError([{ env: 'GLCERT_TLS_SERVER_NAME', message: 'is set but mutual TLS is off (set GLCERT_TLS_CERT_FILE, GLCERT_TLS_KEY_FILE and GLCERT_TLS_CA_FILE)' }]);
    return undefined;
  }
  if (given < 3) {
    const problems: ConfigProblem[] = [];
    const missing = (name: string, v: string | undefined): void => {
      if (v === undefined) problems.push({ env: name, message: 'is required when any GLCERT_TLS_*_FILE is set (mutual TLS needs certificate, key and CA)' });
    };
    missing('GLCERT_TLS_CERT_FILE', c.certFile);
    missing('GLCERT_TLS_KEY_FILE', c.keyFile);
    missing('GLCERT_TLS_CA_FILE', c.caFile);
    throw new ConfigError(problems);
  }
  return { certFile: c.certFile!, keyFile: c.keyFile!, caFile: c.caFile!, serverName: c.serverName };
}

function read(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError([{ env: variable, message: `cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
}

/** Server side: TLS with a required, verified client certificate; insecure when `tls` is undefined. */
export function serverCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    read(tls.caFile, 'GLCERT_TLS_CA_FILE'),
    [{ cert_chain: read(tls.certFile, 'GLCERT_TLS_CERT_FILE'), private_key: read(tls.keyFile, 'GLCERT_TLS_KEY_FILE') }],
    true,
  );
}

/** Client side: TLS presenting this process's certificate; insecure when `tls` is undefined. */
export function channelCredentials(tls: TlsFiles | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    read(tls.caFile, 'GLCERT_TLS_CA_FILE'),
    read(tls.keyFile, 'GLCERT_TLS_KEY_FILE'),
    read(tls.certFile, 'GLCERT_TLS_CERT_FILE'),
  );
}

/** Channel options TLS needs (the server-name override). */
export function tlsChannelOptions(tls: TlsFiles | undefined): grpc.ChannelOptions {
  return tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {};
}
