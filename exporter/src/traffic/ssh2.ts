// ssh2 is loaded on first use: an exporter without traffic hosts never pays for it (memory
// matters: the sweep benchmark's RSS target counts every library the exporter loads).
import { createRequire } from 'node:module';

type Ssh2 = typeof import('ssh2');
let ssh2: Ssh2 | undefined;

export function loadSsh2(): Ssh2 {
  ssh2 ??= createRequire(import.meta.url)('ssh2') as Ssh2;
  return ssh2;
}
