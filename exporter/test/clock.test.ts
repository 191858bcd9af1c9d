// Every timestamp the exporter writes comes from its injected clock: a store written under a
// fake date carries that date, whatever the machine's calendar says.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXPORTER_DIR, type TestExporter, startTestExporter } from './helpers/exporter.js';

describe('the injected clock', () => {
  // Far from any real date, so a timestamp taken from the machine's clock cannot pass.
  let now = Date.UTC(2001, 1, 3, 4, 5, 6);
  let exporter: TestExporter;
  before(async () => {
    exporter = await startTestExporter({}, { clock: () => now });
  });
  after(() => exporter.stop());

  it('stamps IPAM objects and audit entries with the injected time', async () => {
    const { api } = exporter;
    const subnet = (await api.post('/api/v1/subnets', { cidr: '192.0.2.0/24', scan_enabled: false })).body;
    assert.equal(subnet.created_at, '2001-02-03T04:05:06.000Z');
    now += 60_000;
    const address = (await api.post('/api/v1/addresses', { address: '192.0.2.10' })).body;
    assert.equal(address.created_at, '2001-02-03T04:06:06.000Z');
    const range = (
      await api.post('/api/v1/ranges', {
        subnet_id: subnet.id,
        start_address: '192.0.2.100',
        end_address: '192.0.2.110',
        label: 'dhcp',
      })
    ).body;
    assert.equal(range.created_at, '2001-02-03T04:06:06.000Z');
    now += 60_000;
    const updated = (await api.patch(`/api/v1/subnets/${subnet.id}`, { name: 'lab' })).body;
    assert.equal(updated.updated_at, '2001-02-03T04:07:06.000Z');
    const audit = (await api.get('/api/v1/audit?limit=10')).body;
    assert.deepEqual(
      audit.results.map((e: { at: string }) => e.at),
      ['2001-02-03T04:07:06.000Z', '2001-02-03T04:06:06.000Z', '2001-02-03T04:06:06.000Z', '2001-02-03T04:05:06.000Z'],
    );
  });
});

describe('no source file reads the machine clock directly', () => {
  it('uses the Clock of src/clock.ts everywhere else', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts') && path !== join(EXPORTER_DIR, 'src', 'clock.ts')) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/Date\.now\b|new Date\(\)/.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(EXPORTER_DIR, 'src'));
    assert.deepEqual(offenders, []);
  });
});
