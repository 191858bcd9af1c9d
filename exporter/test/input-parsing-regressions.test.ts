// Regressions for input-parsing defects found by outside checks: IPv6 with a dotted IPv4 tail,
// leading zeros, subnet CIDR messages, CSV cells taken as written, decimal-only query numbers,
// and CSV formula escaping that still round-trips any text exactly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { IpFormatError, formatIp, parseIp } from '../src/ipam/core/ip.js';
import { formatPrefix, parsePrefix, parseSubnetPrefix } from '../src/ipam/core/prefix.js';
import { safeCell, unescapeCell } from '../src/ipam/csv.js';
import { type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
before(async () => {
  ex = await startTestExporter();
});
after(async () => {
  await ex.stop();
});

function ipError(fn: () => unknown): IpFormatError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IpFormatError, `expected IpFormatError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an IpFormatError');
}

const csv = (kind: string, body: string, dryRun = false) =>
  ex.api.call('POST', `/api/v1/import/${kind}${dryRun ? '?dry_run=true' : ''}`, {
    rawBody: body,
    contentType: 'text/csv',
  });

describe('IPv6 with a dotted IPv4 tail is the address it spells (RFC 4291 §2.2, as CPython and Go)', () => {
  it('parses ::a.b.c.d as IPv4-compatible, not IPv4-mapped', () => {
    assert.equal(formatIp(parseIp('::1.2.3.4')), '::102:304');
    assert.equal(parseIp('::0.0.0.1').value, parseIp('::1').value);
    assert.equal(formatIp(parseIp('::8.8.8.8')), '::808:808');
    assert.equal(formatIp(parseIp('64:ff9b::1.2.3.4')), '64:ff9b::102:304');
    assert.equal(formatIp(parseIp('1:2:3:4:5:6:1.2.3.4')), '1:2:3:4:5:6:102:304');
  });

  it('keeps ::ffff:a.b.c.d IPv4-mapped, written with a dotted quad (RFC 5952 §5)', () => {
    assert.equal(parseIp('::ffff:1.2.3.4').value, 0xffff01020304n);
    assert.equal(formatIp(parseIp('::ffff:1.2.3.4')), '::ffff:1.2.3.4');
    assert.equal(formatIp(parseIp('::FFFF:102:304')), '::ffff:1.2.3.4');
  });

  it('stores ::1.2.3.4 as ::102:304, finds ::0.0.0.1 taken by ::1, and files ::8.8.8.8 under ::/96', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '::/96' })).body;
    const a = await ex.api.post('/api/v1/addresses', { address: '::1.2.3.4' });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.body.address, '::102:304');
    assert.equal(a.body.subnet_id, subnet.id);
    assert.equal((await ex.api.post('/api/v1/addresses', { address: '::1' })).status, 201);
    const dup = await ex.api.post('/api/v1/addresses', { address: '::0.0.0.1' });
    assert.equal(dup.status, 409, dup.text);
    const google = await ex.api.post('/api/v1/addresses', { address: '::8.8.8.8' });
    assert.equal(google.status, 201, google.text);
    assert.equal(google.body.subnet_id, subnet.id);
    assert.equal(google.body.address, '::808:808');
  });
});

describe('leading zeros in an IPv4 tail are refused, as in an IPv4 address alone', () => {
  it('refuses them with a message that names the problem', () => {
    for (const text of ['1.2.03.4', '::ffff:1.2.03.4', '64:ff9b::01.2.3.4', '::00.0.0.1']) {
      assert.match(ipError(() => parseIp(text)).message, /leading zero/, text);
    }
  });

  it('over the API, even where a subnet would hold the address', async () => {
    await ex.api.post('/api/v1/subnets', { cidr: '::ffff:0:0/96' });
    await ex.api.post('/api/v1/subnets', { cidr: '64:ff9b::/96' });
    for (const address of ['::ffff:1.2.03.4', '64:ff9b::01.2.3.4']) {
      const r = await ex.api.post('/api/v1/addresses', { address });
      assert.equal(r.status, 400, `${address}: ${r.text}`);
      assert.match(r.body.error.message, /leading zero/);
    }
    assert.equal((await ex.api.get('/api/v1/addresses?q=1.2.3.4')).body.count, 0, 'nothing stored');
  });
});

describe('subnet CIDRs get explicit messages', () => {
  it('refuses /0 as a subnet (the prefix math still handles it)', async () => {
    for (const cidr of ['0.0.0.0/0', '::/0']) {
      assert.match(ipError(() => parseSubnetPrefix(cidr)).message, /whole IPv[46] address space/);
      assert.equal(formatPrefix(parsePrefix(cidr)), cidr);
      const r = await ex.api.post('/api/v1/subnets', { cidr });
      assert.equal(r.status, 400, `${cidr}: ${r.text}`);
      assert.match(r.body.error.message, /cannot be a subnet/);
    }
  });

  it('says a garbage string is not an address rather than that it lacks a length', async () => {
    assert.match(ipError(() => parsePrefix('foo')).message, /not a valid IPv4 or IPv6 address/);
    assert.match(ipError(() => parsePrefix('10.0.0.0')).message, /no prefix length/);
    const r = await ex.api.post('/api/v1/subnets', { cidr: 'garbage' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /"garbage" is not a valid IPv4 or IPv6 address/);
  });

  it('says zone ids are not supported', async () => {
    assert.match(ipError(() => parseIp('fe80::1%eth0')).message, /zone ids are not supported/);
    assert.match(ipError(() => parsePrefix('fe80::%eth0/64')).message, /zone ids are not supported/);
    const r = await ex.api.post('/api/v1/addresses', { address: 'fe80::1%eth0' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /zone ids are not supported/);
  });

  it('says netmask notation is not supported and names the prefix length', async () => {
    const e = ipError(() => parsePrefix('10.0.0.0/255.255.255.0'));
    assert.match(e.message, /netmask notation, which is not supported/);
    assert.equal(e.hint, 'write the prefix length instead: 10.0.0.0/24');
    assert.match(ipError(() => parsePrefix('10.1.2.3/255.255.0.0')).hint!, /10\.1\.0\.0\/16$/);
    assert.match(ipError(() => parsePrefix('10.0.0.0/255.0.255.0')).message, /not a valid netmask/);
    const r = await ex.api.post('/api/v1/subnets', { cidr: '192.168.7.0/255.255.255.0' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /not supported; write the prefix length instead: 192\.168\.7\.0\/24/);
  });
});

describe('CSV import takes address and CIDR cells as written, like the API', () => {
  it('refuses surrounding whitespace with the message the API gives, and stores nothing', async () => {
    for (const [kind, column, value, path] of [
      ['subnets', 'cidr', ' 10.91.0.0/24', '/api/v1/subnets'],
      ['subnets', 'cidr', '10.91.0.0/24 ', '/api/v1/subnets'],
      ['addresses', 'address', ' 10.0.0.9', '/api/v1/addresses'],
    ] as const) {
      const api = await ex.api.post(path, { [column]: value });
      assert.equal(api.status, 400, api.text);
      assert.match(api.body.error.details[0].message, /leading or trailing whitespace/);
      const r = await csv(kind, `${column}\n"${value}"\n`);
      assert.equal(r.status, 422, r.text);
      const row = r.body.error.details.errors[0];
      assert.equal(row.field, column);
      assert.equal(row.message, api.body.error.details[0].message, 'same message as the API');
    }
    assert.equal((await ex.api.get('/api/v1/subnets?q=10.91.')).body.count, 0);
  });
});

describe('numeric query values are plain decimal', () => {
  it('refuses hex, exponents, signs, spaces and empty values on every numeric query parameter', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.92.0.0/24' })).body;
    const range = (
      await ex.api.post('/api/v1/ranges', {
        subnet_id: subnet.id,
        start_address: '10.92.0.10',
        end_address: '10.92.0.20',
        label: 'q',
      })
    ).body;
    const address = (await ex.api.post('/api/v1/addresses', { address: '10.92.0.5' })).body;
    const params = [
      '/api/v1/subnets?limit',
      '/api/v1/subnets?offset',
      '/api/v1/subnets?vlan',
      '/api/v1/addresses?limit',
      '/api/v1/ranges?offset',
      `/api/v1/subnets/${subnet.id}/addresses?limit`,
      `/api/v1/subnets/${subnet.id}/available-ips?limit`,
      `/api/v1/ranges/${range.id}/available-ips?limit`,
      '/api/v1/audit?limit',
      '/api/v1/events?limit',
      '/api/v1/sd?port',
      `/api/v1/addresses/${address.id}/history?hours`,
      '/api/v1/traffic-tests?limit',
      '/api/v1/docker/containers?limit',
      '/api/v1/vms/jobs?offset',
    ];
    for (const param of params) {
      for (const bad of ['0x10', '1e1', '%205', '%2B5', '', '016', '5.0', '-0']) {
        const r = await ex.api.get(`${param}=${bad}`);
        assert.equal(r.status, 400, `${param}=${bad}: ${r.text}`);
        assert.match(
          r.body.error.message,
          /^query\.\w+: expected a whole number in plain decimal digits$/,
          `${param}=${bad}`,
        );
      }
    }
    assert.equal((await ex.api.get('/api/v1/subnets?limit=16&offset=0')).status, 200);
    assert.equal((await ex.api.get(`/api/v1/subnets/${subnet.id}/available-ips?limit=3`)).body.count, 3);
    assert.equal((await ex.api.get('/api/v1/subnets?limit=1001')).status, 400, 'the range still applies');
  });
});

describe('CSV formula escaping round-trips text exactly', () => {
  // The rule (src/ipam/csv.ts): export puts one ' before a cell that starts like a formula or
  // already starts with '; import removes one leading ' when what follows would have needed it.
  const tricky = [
    '=1+1',
    '+1',
    '-1',
    '@SUM(A1)',
    '\t=1',
    '\r=1',
    '\n=1',
    ' =1+1',
    '  +1',
    '\u3000=1',
    '＝1+1',
    '＋1',
    '－1',
    '＠x',
    ' ＝1',
    "'quoted",
    "''two",
    "'",
    "'=1",
    "' =1",
    ' lead',
    'trail ',
    ' both ',
    'plain',
    '',
    'a=b',
    "it's",
  ];

  it('neutralises leading spaces, newlines and fullwidth ＝＋－＠ before a formula', () => {
    for (const text of [' =1+1', '\n=1', '＝1+1', '＋1', '－1', '＠x', ' ＝1', '\u3000=1']) {
      assert.equal(safeCell(text), `'${text}`, JSON.stringify(text));
    }
    for (const text of [' lead', 'plain', 'a=b', '']) assert.equal(safeCell(text), text, JSON.stringify(text));
  });

  it('import(export(x)) === x and export(import(export(x))) === export(x), exhaustively over short strings', () => {
    const alphabet = ["'", '=', ' ', '\t', '\n', '＝', '－', 'a', '@'];
    let texts = [''];
    for (let n = 0; n < 4; n++)
      texts = [...texts, ...texts.filter((t) => t.length === n).flatMap((t) => alphabet.map((c) => t + c))];
    for (const text of [...texts, ...tricky]) {
      const cell = safeCell(text);
      assert.equal(unescapeCell(cell), text, JSON.stringify(text));
      assert.equal(safeCell(unescapeCell(cell)), cell, JSON.stringify(cell));
      assert.ok(cell.startsWith("'") || !/^\s*[=+\-@＝＋－＠]/.test(cell), `unsafe cell ${JSON.stringify(cell)}`);
    }
    assert.equal(unescapeCell("'quoted"), "'quoted", 'a typed leading apostrophe is kept');
  });

  it('through the API: export, delete, import gives back every description and name exactly', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.93.0.0/24', name: ' spaced name ' })).body;
    const texts = tricky.filter(Boolean);
    for (const [i, description] of texts.entries()) {
      const r = await ex.api.post('/api/v1/addresses', {
        address: `10.93.0.${i + 10}`,
        description,
        owner: description,
      });
      assert.equal(r.status, 201, r.text);
    }
    const subnets = (await ex.api.get('/api/v1/export/subnets')).text;
    const addresses = (await ex.api.get(`/api/v1/export/addresses?subnet_id=${subnet.id}`)).text;
    const cells = (parse(addresses, { columns: true }) as Record<string, string>[]).map((r) => r.description);
    for (const cell of cells)
      assert.ok(!/^\s*[=+\-@＝＋－＠]/.test(cell!), `exported unescaped: ${JSON.stringify(cell)}`);

    await ex.api.delete(`/api/v1/subnets/${subnet.id}?force=true`);
    const header = subnets.slice(0, subnets.indexOf('\n') + 1);
    const ours = subnets
      .split('\n')
      .filter((l) => l.startsWith('10.93.0.0/24,'))
      .join('\n');
    const r1 = await csv('subnets', header + ours);
    assert.equal(r1.status, 200, r1.text);
    const r2 = await csv('addresses', addresses);
    assert.equal(r2.status, 200, r2.text);

    const back = (await ex.api.get('/api/v1/subnets?q=10.93.0.0')).body.results[0];
    assert.equal(back.name, ' spaced name ');
    const list = (await ex.api.get('/api/v1/addresses?q=10.93.0.&limit=1000')).body.results as {
      description: string;
      owner: string;
    }[];
    assert.deepEqual(list.map((a) => a.description).sort(), [...texts].sort());
    assert.deepEqual(list.map((a) => a.owner).sort(), [...texts].sort());
    const again = (await ex.api.get(`/api/v1/export/addresses?subnet_id=${back.id}`)).text;
    const cellsAgain = (parse(again, { columns: true }) as Record<string, string>[]).map((r) => r.description);
    assert.deepEqual(cellsAgain.sort(), [...cells].sort(), 'export(import(export)) writes the same cells');
  });

  it('keeps a hand-typed leading apostrophe that guards nothing', async () => {
    await ex.api.post('/api/v1/subnets', { cidr: '10.94.0.0/24' });
    const r = await csv('addresses', "address,description\n10.94.0.5,'quoted\n10.94.0.6,'=1\n");
    assert.equal(r.status, 200, r.text);
    const got = (await ex.api.get('/api/v1/addresses?q=10.94.0.')).body.results.map(
      (a: { description: string }) => a.description,
    );
    assert.deepEqual(got.sort(), ["'quoted", '=1']);
  });
});
