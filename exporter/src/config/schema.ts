// The exporter's settings: one zod schema for the YAML file and the environment alike.
import { z } from 'zod';

const LISTEN_RE = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?):(\d{1,5})$/;
const Listen = z.string().superRefine((v, ctx) => {
  const m = LISTEN_RE.exec(v);
  if (!m) ctx.addIssue({ code: 'custom', message: 'expected host:port, :port or [v6]:port' });
  else if (Number(m[1]) > 65535) ctx.addIssue({ code: 'custom', message: 'the port is 0–65535' });
});
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
  }).default({ named: [] }),
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
    pps: z.number().int().min(1).max(100_000).default(500)
      .meta({ description: 'ICMP packets per second; gentle by default' }),
    timeout_ms: z.number().int().min(50).max(60_000).default(1000),
    max_prefix: z.number().int().min(8).max(32).default(16)
      .meta({ description: 'largest IPv4 sweep allowed, as a prefix length' }),
  }).default({ pps: 500, timeout_ms: 1000, max_prefix: 16 }),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variables and the config path each one sets; `int` ones must be whole numbers. */
export const ENV_VARS: readonly { name: string; path: string[]; int?: boolean; secret?: boolean; doc: string }[] = [
  { name: 'LANSCAPE_LISTEN', path: ['listen'], doc: 'listen address, `:9645`, `127.0.0.1:9700`, `[::1]:9645`' },
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
];
