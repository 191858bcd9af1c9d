// Throw-away certificates for tests, made with the openssl command line: P-256 keys, a few days
// of validity (openssl runs under the suite's faketime too, so the dates follow the test clock).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Runs openssl in `cwd`; throws with its stderr when it fails. */
export function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Files are relative to the working folder or absolute; `ext` are X.509 extensions (`name=value`). */
export interface CertSpec {
  readonly subject: string;
  readonly key: string;
  readonly cert: string;
  readonly days?: number;
  readonly ext?: readonly string[];
}

/** A new key and a self-signed certificate for it (a CA when `ext` says so). */
export function selfSigned(dir: string, { subject, key, cert, days = 2, ext = [] }: CertSpec): void {
  const extensions = ext.flatMap((e) => ['-addext', e]);
  openssl(
    [
      'req',
      '-x509',
      ...NEW_P256_KEY,
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-subj',
      subject,
      ...extensions,
    ],
    dir,
  );
}

/** A new key and a certificate for it signed by the CA `issuer`. */
export function signedBy(dir: string, issuer: { cert: string; key: string }, spec: CertSpec): void {
  const { subject, key, cert, days = 2, ext = [] } = spec;
  const csr = `${cert}.csr`;
  const extFile = resolve(dir, `${cert}.ext`);
  openssl(['req', ...NEW_P256_KEY, '-keyout', key, '-out', csr, '-subj', subject], dir);
  writeFileSync(extFile, `${ext.join('\n')}\n`);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.cert,
      '-CAkey',
      issuer.key,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      String(days),
      '-extfile',
      extFile,
    ],
    dir,
  );
}
