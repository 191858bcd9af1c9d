// With a certificate configured the exporter serves HTTPS, and only HTTPS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { it } from 'node:test';
import { selfSigned } from './helpers/certs.js';
import { startTestExporter, tempDir } from './helpers/exporter.js';
import { requireTool } from './helpers/tools.js';

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

it('serves the API over TLS with the configured certificate', async (t) => {
  const openssl = requireTool(t, 'openssl', 'apt-get install openssl');
  if (!openssl) return;
  const { dir, cleanup } = tempDir();
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    selfSigned(dir, { subject: '/CN=localhost', key, cert, days: 1, ext: ['subjectAltName=IP:127.0.0.1'] });
    const ex = await startTestExporter({ LANSCAPE_TLS_CERT_FILE: cert, LANSCAPE_TLS_KEY_FILE: key });
    try {
      assert.match(ex.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await httpsGet(`${ex.url}/healthz`, readFileSync(cert));
      assert.equal(health.status, 200);
      await assert.rejects(
        httpsGet(`${ex.url}/healthz`, Buffer.from('')),
        /self-signed|unable to verify|certificate/i,
        'a client that does not trust the certificate is refused',
      );
      await assert.rejects(fetch(ex.url.replace('https:', 'http:') + '/healthz'));
    } finally {
      await ex.stop();
    }
  } finally {
    cleanup();
  }
});
