// A fake Proxmox VE API for tests: HTTPS on 127.0.0.1 with a throw-away certificate (so the
// exporter's TLS verification runs for real), API-token authentication, and every request
// checked against the real PVE API schema (pve-schema.ts). A request that breaks the schema
// is answered as PVE would (HTTP 400, {"errors": {...}, "data": null}) AND recorded in
// `violations`, which each test asserts empty. Answers use PVE's shapes: {"data": …}, task
// UPIDs that finish after a few polls, errors in the HTTP reason phrase.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openssl, selfSigned, signedBy } from './certs.js';
import { type PveSchema, checkParameters, checkReturns, loadPveSchema, matchPath } from './pve-schema.js';

// ---------------------------------------------------------------- certificates (openssl)
export interface CertFiles {
  cert: string;
  key: string;
  fingerprint: string;
  ca?: string;
}

/** SHA-256 fingerprint the way PVE shows it (openssl prints AA:BB:… in upper case). */
export function fingerprintOf(certFile: string, dir: string): string {
  const out = openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], dir);
  return out.trim().split('=')[1]!;
}

/** A self-signed certificate for 127.0.0.1 (like a fresh PVE node's, as far as trust goes). */
export function selfSignedCert(dir: string, name = 'pve'): CertFiles {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  selfSigned(dir, { subject: `/CN=${name}.fake`, key, cert, ext: ['subjectAltName=IP:127.0.0.1,DNS:localhost'] });
  return { cert, key, fingerprint: fingerprintOf(cert, dir) };
}

/** A CA and a node certificate signed by it (PVE's pve-root-ca.pem and pve-ssl.pem). */
export function caSignedCert(dir: string): CertFiles & { ca: string } {
  const ca = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') };
  selfSigned(dir, {
    subject: '/CN=Fake PVE Cluster CA',
    ...ca,
    ext: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'],
  });
  const key = join(dir, 'node.key');
  const cert = join(dir, 'node.pem');
  signedBy(dir, ca, {
    subject: '/CN=pve1.fake',
    key,
    cert,
    ext: ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE', 'extendedKeyUsage=serverAuth'],
  });
  return { cert, key, ca: ca.cert, fingerprint: fingerprintOf(cert, dir) };
}

// ---------------------------------------------------------------- the fake cluster
export interface FakeNode {
  node: string;
  status: 'online' | 'offline';
  cpu: number;
  maxcpu: number;
  mem: number;
  maxmem: number;
  uptime: number;
}

export interface FakeGuest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name: string;
  status: 'running' | 'stopped';
  template?: boolean;
  tags?: string;
  cpus?: number;
  maxmem?: number;
  maxdisk?: number;
  /** qemu: whether the guest agent answers. */
  agent?: boolean;
  /** Addresses the guest reports (agent or container interfaces): "10.0.0.5/24". */
  ips?: string[];
  config?: Record<string, string>;
  lock?: string;
}

interface FakeTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  pollsLeft: number;
  exitstatus: string;
  status: 'running' | 'stopped';
  onDone?: (ok: boolean) => void;
}

export interface LoggedRequest {
  method: string;
  path: string;
  template: string | null;
  params: Record<string, string | string[]>;
}

class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface FakePveOptions {
  cert: string;
  key: string;
  tokenId: string;
  tokenSecret: string;
  taskPolls?: number;
}

export class FakePve {
  readonly schema: PveSchema = loadPveSchema();
  readonly requests: LoggedRequest[] = [];
  readonly violations: string[] = [];
  readonly nodes: FakeNode[] = [
    { node: 'pve1', status: 'online', cpu: 0.12, maxcpu: 8, mem: 6 * 2 ** 30, maxmem: 32 * 2 ** 30, uptime: 86_400 },
    { node: 'pve2', status: 'online', cpu: 0.03, maxcpu: 4, mem: 2 * 2 ** 30, maxmem: 16 * 2 ** 30, uptime: 3600 },
  ];
  readonly guests = new Map<number, FakeGuest>();
  readonly tasks = new Map<string, FakeTask>();
  /** Tasks stay running while this is true (to watch a job's progress). */
  holdTasks = false;
  taskPolls: number;
  private readonly requestFailures: {
    method: string;
    path: RegExp;
    status: number;
    message: string;
    errors?: Record<string, string>;
  }[] = [];
  private readonly taskFailures: { type: string; exitstatus: string }[] = [];
  private server: Server | undefined;
  private pid = 0x1000;
  url = '';

  constructor(private readonly options: FakePveOptions) {
    this.taskPolls = options.taskPolls ?? 2;
  }

  async start(): Promise<this> {
    this.server = createServer(
      { cert: readFileSync(this.options.cert), key: readFileSync(this.options.key) },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  addGuest(g: FakeGuest): void {
    this.guests.set(g.vmid, { cpus: 2, maxmem: 2 * 2 ** 30, maxdisk: 32 * 2 ** 30, config: {}, ...g });
  }

  /** The next request matching method and path fails with this PVE error. */
  failRequest(method: string, path: RegExp, status: number, message: string, errors?: Record<string, string>): void {
    this.requestFailures.push({ method, path, status, message, ...(errors ? { errors } : {}) });
  }

  /** The next task of this type (qmclone, qmcreate, qmconfig, qmstart, qmdestroy) ends with this exit status. */
  failTask(type: string, exitstatus: string): void {
    this.taskFailures.push({ type, exitstatus });
  }

  /** Requests that change something (not GET). */
  changes(): LoggedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  // ---------------------------------------------------------------- HTTP
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith('/api2/json/')) return this.send(res, 404, { data: null }, 'Not found');
    const path = url.pathname.slice('/api2/json'.length);
    const expected = `PVEAPIToken=${this.options.tokenId}=${this.options.tokenSecret}`;
    if (req.headers.authorization !== expected) {
      this.violations.push(`${method} ${path}: wrong or missing Authorization header`);
      return this.send(res, 401, { data: null }, 'authentication failure');
    }
    const params: Record<string, string | string[]> = {};
    const add = (k: string, v: string) => {
      const prev = params[k];
      params[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    };
    if (method === 'POST' || method === 'PUT') {
      if (url.search) this.violations.push(`${method} ${path}: parameters in the query string of a ${method}`);
      if (body && !(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        this.violations.push(`${method} ${path}: body is not application/x-www-form-urlencoded`);
      }
      for (const [k, v] of new URLSearchParams(body)) add(k, v);
    } else {
      if (body) this.violations.push(`${method} ${path}: a ${method} with a body`);
      for (const [k, v] of url.searchParams) add(k, v);
    }
    const match = matchPath(this.schema, path);
    this.requests.push({ method, path, template: match?.template ?? null, params: { ...params } });
    const endpoint = match ? this.schema.endpoints[match.template]?.[method] : undefined;
    if (!match || !endpoint) {
      this.violations.push(`${method} ${path}: not an endpoint of the fixture (add it to extract-pve-schema.mjs)`);
      return this.send(res, 501, { data: null }, `Method '${method} ${path}' not implemented`);
    }
    const all = { ...params, ...match.params };
    const problems = checkParameters(endpoint.parameters, all);
    if (problems.length) {
      for (const p of problems) this.violations.push(`${method} ${match.template}: ${p}`);
      const errors = Object.fromEntries(problems.map((p) => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 2)]));
      return this.send(res, 400, { errors, data: null }, 'Parameter verification failed.');
    }
    const failure = this.requestFailures.findIndex((f) => f.method === method && f.path.test(path));
    if (failure >= 0) {
      const f = this.requestFailures.splice(failure, 1)[0]!;
      return this.send(
        res,
        f.status,
        f.errors ? { errors: f.errors, data: null } : { data: null, message: `${f.message}\n` },
        f.status === 400 ? 'Parameter verification failed.' : f.message,
      );
    }
    try {
      const data = this.route(method, match.template, all);
      const bad = checkReturns(endpoint.returns, data);
      for (const b of bad) this.violations.push(`fake answer to ${method} ${match.template}: ${b}`);
      this.send(res, 200, { data });
    } catch (e) {
      if (!(e instanceof PveError)) throw e;
      this.send(
        res,
        e.status,
        e.errors ? { errors: e.errors, data: null } : { data: null, message: `${e.message}\n` },
        e.message,
      );
    }
  }

  private send(res: ServerResponse, status: number, body: unknown, reason?: string): void {
    const text = JSON.stringify(body);
    // PVE puts the error message in the reason phrase (one line, printable).
    res.writeHead(status, reason ? reason.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200) : undefined, {
      'Content-Type': 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  // ---------------------------------------------------------------- API
  private route(method: string, template: string, p: Record<string, string | string[]>): unknown {
    const s = (k: string) => p[k] as string | undefined;
    const node = s('node');
    if (node !== undefined && !this.nodes.some((n) => n.node === node))
      throw new PveError(
        500,
        `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`,
      );
    const vmid = s('vmid') === undefined ? undefined : Number(s('vmid'));
    const guestOn = (type: 'qemu' | 'lxc') => {
      const g = this.guests.get(vmid!);
      if (!g || g.node !== node || g.type !== type) {
        throw new PveError(
          500,
          `Configuration file 'nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf' does not exist`,
        );
      }
      return g;
    };
    const bool = (k: string) => /^(1|true|yes|on)$/i.test(s(k) ?? '');
    switch (`${method} ${template}`) {
      case 'GET /version':
        return { version: '8.4.1', release: '8.4', repoid: 'c4ac0dd5' };
      case 'GET /nodes':
        return this.nodes.map((n) => ({
          node: n.node,
          status: n.status,
          id: `node/${n.node}`,
          type: 'node',
          level: '',
          ssl_fingerprint: '',
          ...(n.status === 'online'
            ? { cpu: n.cpu, maxcpu: n.maxcpu, mem: n.mem, maxmem: n.maxmem, uptime: n.uptime }
            : {}),
        }));
      case 'GET /cluster/nextid': {
        let id = 100;
        while (this.guests.has(id)) id++;
        return id;
      }
      case 'GET /nodes/{node}/qemu':
      case 'GET /nodes/{node}/lxc': {
        const type = template.endsWith('qemu') ? 'qemu' : 'lxc';
        return [...this.guests.values()]
          .filter((g) => g.node === node && g.type === type)
          .map((g) => this.listEntry(g));
      }
      case 'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': {
        const g = guestOn('qemu');
        if (g.status !== 'running') throw new PveError(500, `VM ${vmid} is not running`);
        if (!g.agent) throw new PveError(500, 'QEMU guest agent is not running');
        return {
          result: [
            {
              name: 'lo',
              'hardware-address': '00:00:00:00:00:00',
              'ip-addresses': [
                { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 },
                { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 },
              ],
            },
            {
              name: 'eth0',
              'hardware-address': 'bc:24:11:00:00:' + (g.vmid % 256).toString(16).padStart(2, '0'),
              'ip-addresses': [
                ...(g.ips ?? []).map((a) => {
                  const [ip, prefix] = a.split('/');
                  return {
                    'ip-address': ip,
                    'ip-address-type': ip!.includes(':') ? 'ipv6' : 'ipv4',
                    prefix: Number(prefix ?? 24),
                  };
                }),
                { 'ip-address': 'fe80::be24:11ff:fe00:1', 'ip-address-type': 'ipv6', prefix: 64 },
              ],
            },
          ],
        };
      }
      case 'GET /nodes/{node}/lxc/{vmid}/interfaces': {
        const g = guestOn('lxc');
        if (g.status !== 'running') throw new PveError(500, `CT ${vmid} not running`);
        const v4 = (g.ips ?? []).find((a) => !a.includes(':'));
        const mac = 'bc:24:11:00:01:' + (g.vmid % 256).toString(16).padStart(2, '0');
        return [
          {
            name: 'lo',
            hwaddr: '00:00:00:00:00:00',
            'hardware-address': '00:00:00:00:00:00',
            inet: '127.0.0.1/8',
            'ip-addresses': [],
          },
          { name: 'eth0', hwaddr: mac, 'hardware-address': mac, ...(v4 ? { inet: v4 } : {}), 'ip-addresses': [] },
        ];
      }
      case 'GET /nodes/{node}/storage': {
        const list = [
          {
            storage: 'local',
            type: 'dir',
            content: 'iso,vztmpl,backup',
            enabled: 1,
            active: 1,
            shared: 0,
            total: 100 * 2 ** 30,
            used: 10 * 2 ** 30,
            avail: 90 * 2 ** 30,
          },
          {
            storage: 'local-lvm',
            type: 'lvmthin',
            content: 'images,rootdir',
            enabled: 1,
            active: 1,
            shared: 0,
            total: 400 * 2 ** 30,
            used: 40 * 2 ** 30,
            avail: 360 * 2 ** 30,
          },
          { storage: 'nfs-old', type: 'nfs', content: 'images', enabled: 0, active: 0, shared: 1 },
        ];
        return list.filter(
          (x) =>
            (!s('content') || x.content.split(',').includes(s('content')!)) && (!bool('enabled') || x.enabled === 1),
        );
      }
      case 'GET /nodes/{node}/network': {
        const list = [
          { iface: 'eno1', type: 'eth', active: 1, families: ['inet'], method: 'manual' },
          {
            iface: 'vmbr0',
            type: 'bridge',
            active: 1,
            bridge_ports: 'eno1',
            bridge_vlan_aware: 1,
            cidr: '192.0.2.10/24',
            families: ['inet'],
            method: 'static',
          },
          { iface: 'vmbr1', type: 'OVSBridge', active: 1, families: ['inet'], method: 'manual', comments: 'lab\n' },
        ];
        const t = s('type');
        return list.filter((x) => !t || (t === 'any_bridge' ? ['bridge', 'OVSBridge'].includes(x.type) : x.type === t));
      }
      case 'POST /nodes/{node}/qemu': {
        if (this.guests.has(vmid!))
          throw new PveError(
            500,
            `unable to create VM ${vmid} - VM ${vmid} already exists on node '${this.guests.get(vmid!)!.node}'`,
          );
        const config = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'node' && k !== 'vmid')) as Record<
          string,
          string
        >;
        const g: FakeGuest = {
          vmid: vmid!,
          type: 'qemu',
          node: node!,
          name: s('name') ?? `VM${vmid}`,
          status: 'stopped',
          config,
          lock: 'create',
          cpus: Number(s('cores') ?? 1),
          maxmem: Number(s('memory') ?? 512) * 2 ** 20,
        };
        this.guests.set(vmid!, g);
        return this.task(node!, 'qmcreate', String(vmid), (ok) => {
          if (ok) delete g.lock;
          else this.guests.delete(vmid!);
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/clone': {
        const src = guestOn('qemu');
        const newid = Number(s('newid'));
        if (this.guests.has(newid)) throw new PveError(500, `unable to create VM ${newid}: config file already exists`);
        if (!src.template && src.status === 'running' && !bool('full'))
          throw new PveError(500, 'Linked clone feature is not supported for running VMs');
        const g: FakeGuest = {
          ...src,
          vmid: newid,
          name: s('name') ?? `Copy-of-VM-${src.name}`,
          template: false,
          status: 'stopped',
          config: { ...src.config, ...(s('description') ? { description: s('description')! } : {}) },
          lock: 'clone',
          ips: [],
        };
        this.guests.set(newid, g);
        return this.task(node!, 'qmclone', String(vmid), (ok) => {
          if (ok) delete g.lock;
          else this.guests.delete(newid);
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/config': {
        const g = guestOn('qemu');
        if (g.lock) throw new PveError(500, `VM is locked (${g.lock})`);
        const changes = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'node' && k !== 'vmid')) as Record<
          string,
          string
        >;
        return this.task(node!, 'qmconfig', String(vmid), (ok) => {
          if (ok) Object.assign(g.config!, changes);
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/start': {
        const g = guestOn('qemu');
        if (g.template) throw new PveError(500, "you can't start a vm if it's a template");
        if (g.status === 'running') throw new PveError(500, `VM ${vmid} already running`);
        return this.task(node!, 'qmstart', String(vmid), (ok) => {
          if (!ok) return;
          g.status = 'running';
          // cloud-init's address is what the guest agent reports once it boots.
          const ip = /(?:^|,)ip=([^,]+)/.exec(g.config?.ipconfig0 ?? '')?.[1];
          if (ip && ip !== 'dhcp') {
            g.ips = [ip];
            g.agent = true;
          }
        });
      }
      case 'DELETE /nodes/{node}/qemu/{vmid}': {
        const g = guestOn('qemu');
        if (g.status === 'running') throw new PveError(500, `VM ${vmid} is running - destroy failed`);
        return this.task(node!, 'qmdestroy', String(vmid), (ok) => {
          if (ok) this.guests.delete(vmid!);
        });
      }
      case 'GET /nodes/{node}/tasks/{upid}/status': {
        const t = this.tasks.get(s('upid')!);
        if (!t || t.node !== node) throw new PveError(500, `no such task '${s('upid')}'`);
        if (t.status === 'running' && !this.holdTasks && --t.pollsLeft <= 0) {
          t.status = 'stopped';
          t.onDone?.(t.exitstatus === 'OK');
        }
        const parts = t.upid.split(':');
        return {
          upid: t.upid,
          node: t.node,
          pid: parseInt(parts[2]!, 16),
          pstart: parseInt(parts[3]!, 16),
          starttime: parseInt(parts[4]!, 16),
          type: t.type,
          id: t.id,
          user: this.options.tokenId.split('!')[0]!,
          status: t.status,
          ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}),
        };
      }
      default:
        throw new PveError(501, `Method '${method} ${template}' not implemented by the fake`);
    }
  }

  private listEntry(g: FakeGuest) {
    const running = g.status === 'running';
    return {
      vmid: g.vmid,
      name: g.name,
      status: g.status,
      cpus: g.cpus ?? 1,
      maxmem: g.maxmem ?? 2 ** 30,
      maxdisk: g.maxdisk ?? 0,
      cpu: running ? 0.05 : 0,
      mem: running ? Math.floor((g.maxmem ?? 2 ** 30) / 4) : 0,
      uptime: running ? 1234 : 0,
      ...(g.template ? { template: 1 } : {}),
      ...(g.tags ? { tags: g.tags } : {}),
      ...(g.lock ? { lock: g.lock } : {}),
    };
  }

  private task(node: string, type: string, id: string, onDone?: (ok: boolean) => void): string {
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const now = Math.floor(Date.now() / 1000);
    const upid = `UPID:${node}:${hex(++this.pid)}:${hex(this.pid * 7)}:${hex(now)}:${type}:${id}:${this.options.tokenId}:`;
    const failure = this.taskFailures.findIndex((f) => f.type === type);
    const exitstatus = failure >= 0 ? this.taskFailures.splice(failure, 1)[0]!.exitstatus : 'OK';
    this.tasks.set(upid, {
      upid,
      node,
      type,
      id,
      pollsLeft: this.taskPolls,
      exitstatus,
      status: 'running',
      ...(onDone ? { onDone } : {}),
    });
    return upid;
  }
}
