// The exporter's settings: one zod schema for the YAML file and the environment alike.
import { z } from 'zod';

const LISTEN_RE = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?):(\d{1,5})$/;
const Listen = z.string().superRefine((v, ctx) => {
  if (v.startsWith('unix:')) {
    if (!/^unix:\/[^\0]{1,100}$/.test(v)) ctx.addIssue({ code: 'custom', message: 'expected unix:/absolute/path.sock (at most 100 characters)' });
    return;
  }
  const m = LISTEN_RE.exec(v);
  if (!m) ctx.addIssue({ code: 'custom', message: 'expected host:port, :port, [v6]:port or unix:/path.sock' });
  else if (Number(m[1]) > 65535) ctx.addIssue({ code: 'custom', message: 'the port is 0–65535' });
});

/** "22,80/http,443/https": a port and an optional service name per entry. */
const PortList = z.string().max(2000).transform((text, ctx) => {
  const out: { port: number; service: string | null }[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})(?:\/([a-z0-9][a-z0-9-]{0,31}))?$/.exec(part);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${part}" is not PORT or PORT/service (1–65535)` });
      return z.NEVER;
    }
    out.push({ port: Number(m[1]), service: m[2] ?? null });
  }
  if (out.length > 200) {
    ctx.addIssue({ code: 'custom', message: 'at most 200 ports' });
    return z.NEVER;
  }
  return out;
});
const Bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const Token = z.string().min(16, 'tokens need at least 16 characters').max(512).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const ConfigSchema = z.strictObject({
  listen: Listen.default(':9645'),
  db: z.string().min(1).max(4096).default('./data/lanscape.db'),
  db_synchronous: z.enum(['normal', 'full']).default('normal'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  body_limit_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  import_limit_bytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(16 * 1024 * 1024),
  tokens: z.strictObject({
    read: Token.optional(),
    write: Token.optional(),
    admin: Token.optional(),
    named: z.array(z.strictObject({
      name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case name, letters, digits, _ and -'),
      token: Token,
      scope: z.enum(SCOPES),
    })).max(100).default([]),
  }).default({ named: [] })
    .refine((t) => {
      const values = [t.read, t.write, t.admin, ...t.named.map((n) => n.token)].filter((v) => v !== undefined);
      return new Set(values).size === values.length;
    }, 'every token must be different (the same token with two scopes would get the first match)')
    .refine((t) => t.named.every((n, i) => !['read', 'write', 'admin'].includes(n.name) && t.named.findIndex((m) => m.name === n.name) === i),
      'named tokens need unique names other than read, write and admin (those name the LANSCAPE_*_TOKEN ones)'),
  metrics: z.strictObject({
    username: z.string().min(1).max(128).optional(),
    password: z.string().min(8).max(512).optional(),
  }).refine((m) => (m.username === undefined) === (m.password === undefined), 'set both username and password, or neither')
    .default({}),
  tls: z.strictObject({
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  }).refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'set both cert_file and key_file, or neither')
    .default({}),
  scan: z.strictObject({
    enabled: Bool.default(true),
    pps: z.number().int().min(1).max(100_000).default(500)
      .meta({ description: 'ICMP packets per second; gentle by default' }),
    timeout_ms: z.number().int().min(50).max(60_000).default(1000),
    retries: z.number().int().min(0).max(5).default(1),
    max_in_flight: z.number().int().min(1).max(60_000).default(10_000),
    max_prefix: z.number().int().min(8).max(32).default(16)
      .meta({ description: 'largest IPv4 sweep allowed, as a prefix length' }),
    interval_seconds: z.number().int().min(10).max(604_800).default(300),
    jitter_ratio: z.number().min(0).max(0.5).default(0.1),
    down_after: z.number().int().min(1).max(100).default(3),
    manual_min_interval_seconds: z.number().int().min(0).max(86_400).default(30),
    stale_after_hours: z.number().int().min(1).max(87_600).default(168),
    ports: z.union([PortList, z.array(z.object({ port: z.number().int().min(1).max(65535), service: z.string().nullable() }))]).optional(),
    port_timeout_ms: z.number().int().min(50).max(30_000).default(1000),
    port_concurrency: z.number().int().min(1).max(2000).default(200),
    port_interval_seconds: z.number().int().min(0).max(604_800).default(900),
    nmap: Bool.default(false),
    nmap_interval_seconds: z.number().int().min(60).max(604_800).default(3600),
    rdns: Bool.default(true),
    dns_servers: z.union([z.string().max(500).transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean)), z.array(z.string())]).optional(),
    history_raw_days: z.number().int().min(1).max(365).default(7),
    history_hourly_days: z.number().int().min(1).max(3650).default(90),
  }).prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variables and the config path each one sets; `int` ones must be whole numbers. */
export const ENV_VARS: readonly { name: string; path: string[]; int?: boolean; secret?: boolean; doc: string }[] = [
  { name: 'LANSCAPE_LISTEN', path: ['listen'], doc: 'listen address, `:9645`, `127.0.0.1:9700`, `[::1]:9645`, or `unix:/run/lanscape.sock`' },
  { name: 'LANSCAPE_DB', path: ['db'], doc: 'SQLite file of the store' },
  { name: 'LANSCAPE_DB_SYNCHRONOUS', path: ['db_synchronous'], doc: '`normal` survives a crash of the exporter; `full` also survives power loss (slower writes)' },
  { name: 'LANSCAPE_LOG_LEVEL', path: ['log_level'], doc: 'fatal, error, warn, info, debug, trace, silent' },
  { name: 'LANSCAPE_BODY_LIMIT_BYTES', path: ['body_limit_bytes'], int: true, doc: 'largest JSON request body (1 KiB–64 MiB)' },
  { name: 'LANSCAPE_IMPORT_LIMIT_BYTES', path: ['import_limit_bytes'], int: true, doc: 'largest CSV import body (1 KiB–256 MiB)' },
  { name: 'LANSCAPE_READ_TOKEN', path: ['tokens', 'read'], secret: true, doc: 'bearer token with read scope (≥ 16 characters)' },
  { name: 'LANSCAPE_WRITE_TOKEN', path: ['tokens', 'write'], secret: true, doc: 'bearer token with write scope (includes read)' },
  { name: 'LANSCAPE_ADMIN_TOKEN', path: ['tokens', 'admin'], secret: true, doc: 'bearer token with admin scope (includes write)' },
  { name: 'LANSCAPE_METRICS_USERNAME', path: ['metrics', 'username'], doc: 'basic-auth user for `/metrics` (optional)' },
  { name: 'LANSCAPE_METRICS_PASSWORD', path: ['metrics', 'password'], secret: true, doc: 'basic-auth password for `/metrics`' },
  { name: 'LANSCAPE_TLS_CERT_FILE', path: ['tls', 'cert_file'], doc: 'serve HTTPS with this PEM certificate (optional)' },
  { name: 'LANSCAPE_TLS_KEY_FILE', path: ['tls', 'key_file'], doc: 'PEM private key for the certificate' },
  { name: 'LANSCAPE_SCAN_PPS', path: ['scan', 'pps'], int: true, doc: 'ICMP packets per second (1–100000)' },
  { name: 'LANSCAPE_SCAN_TIMEOUT_MS', path: ['scan', 'timeout_ms'], int: true, doc: 'per-host ICMP timeout in ms (50–60000)' },
  { name: 'LANSCAPE_SCAN_MAX_PREFIX', path: ['scan', 'max_prefix'], int: true, doc: 'largest sweep allowed as an IPv4 prefix length (8–32)' },
  { name: 'LANSCAPE_SCAN_ENABLED', path: ['scan', 'enabled'], doc: '`false` turns off scheduled sweeps (manual scans still work)' },
  { name: 'LANSCAPE_SCAN_RETRIES', path: ['scan', 'retries'], int: true, doc: 'extra ICMP tries per host after a timeout (0–5)' },
  { name: 'LANSCAPE_SCAN_MAX_IN_FLIGHT', path: ['scan', 'max_in_flight'], int: true, doc: 'ICMP requests outstanding at once (1–60000)' },
  { name: 'LANSCAPE_SCAN_INTERVAL_SECONDS', path: ['scan', 'interval_seconds'], int: true, doc: 'default sweep interval per subnet (10–604800)' },
  { name: 'LANSCAPE_SCAN_DOWN_AFTER', path: ['scan', 'down_after'], int: true, doc: 'consecutive missed sweeps before a host is down (1–100)' },
  { name: 'LANSCAPE_SCAN_PORTS', path: ['scan', 'ports'], doc: 'TCP ports checked on alive hosts, `22,80/http,443/https` (default: common service ports)' },
  { name: 'LANSCAPE_SCAN_NMAP', path: ['scan', 'nmap'], doc: '`true` runs `nmap -sV` hourly per alive host when nmap is installed' },
  { name: 'LANSCAPE_SCAN_RDNS', path: ['scan', 'rdns'], doc: '`false` turns off reverse DNS (PTR) lookups' },
  { name: 'LANSCAPE_SCAN_DNS_SERVERS', path: ['scan', 'dns_servers'], doc: 'resolvers for PTR lookups, `192.0.2.53,[2001:db8::53]:53` (default: the system\'s)' },
];
