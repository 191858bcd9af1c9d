// The exporter's settings: one zod schema for the YAML file and the environment alike.
import { z } from 'zod';
import { AGENT_NAME_RE, REPORT_INTERVAL, REPORT_INTERVAL_RANGE } from '../shared/agents.js';
import {
  ENDPOINT_NAME_RE,
  type EndpointTarget,
  PVE_FINGERPRINT_RE,
  PVE_TOKEN_ID_RE,
  SSH_FINGERPRINT_RE as FINGERPRINT_RE,
  isHostAddress,
  parseEndpointUrl,
  parseHostList,
} from '../shared/formats.js';

const LISTEN_RE = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?):(\d{1,5})$/;
const Listen = z.string().superRefine((v, ctx) => {
  if (v.startsWith('unix:')) {
    if (!/^unix:\/[^\0]{1,100}$/.test(v))
      ctx.addIssue({ code: 'custom', message: 'expected unix:/absolute/path.sock (at most 100 characters)' });
    return;
  }
  const m = LISTEN_RE.exec(v);
  if (!m) ctx.addIssue({ code: 'custom', message: 'expected host:port, :port, [v6]:port or unix:/path.sock' });
  else if (Number(m[1]) > 65535) ctx.addIssue({ code: 'custom', message: 'the port is 0–65535' });
});

/** "22,80/http,443/https": a port and an optional service name per entry. */
const PortList = z
  .string()
  .max(2000)
  .transform((text, ctx) => {
    const out: { port: number; service: string | null }[] = [];
    for (const part of text
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
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
/** Shortest API token accepted: 24 characters, e.g. `openssl rand -hex 24` (48) or `-base64 18` (24). */
export const TOKEN_MIN_LENGTH = 24;
/**
 * A PostgreSQL connection URL (node-postgres syntax): `postgres://user:password@host:5432/lanscape`,
 * `?sslmode=verify-full` for TLS (the server's certificate is checked), `?host=/run/postgresql`
 * for a unix socket.
 */
const DatabaseUrl = z
  .string()
  .max(4096)
  .superRefine((v, ctx) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected postgres://user:password@host:port/database' });
      return;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      ctx.addIssue({ code: 'custom', message: `expected a postgres:// URL, not ${url.protocol}//` });
    } else if (url.hostname === '' && !url.searchParams.get('host')) {
      ctx.addIssue({ code: 'custom', message: 'the URL names no host (or ?host=/socket/dir)' });
    } else if (url.pathname.length <= 1) {
      ctx.addIssue({ code: 'custom', message: 'the URL names no database (postgres://…/lanscape)' });
    }
    const sslmode = url.searchParams.get('sslmode');
    if (
      sslmode !== null &&
      !['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode)
    ) {
      ctx.addIssue({ code: 'custom', message: `unknown sslmode "${sslmode}"` });
    }
    if (sslmode === 'no-verify') {
      ctx.addIssue({
        code: 'custom',
        message: 'sslmode=no-verify accepts any certificate; use verify-full with a trusted CA',
      });
    }
  });

const Token = z
  .string()
  .min(
    TOKEN_MIN_LENGTH,
    `tokens need at least ${TOKEN_MIN_LENGTH} characters; create one with \`openssl rand -hex 24\``,
  )
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .refine(
    (v) => !/^(.)\1*$/s.test(v),
    'a token of one repeated character is too weak; create one with `openssl rand -hex 24`',
  );
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A comma-separated list from the environment, or a YAML list. */
const NameList = (max: number, item: z.ZodString) =>
  z
    .union([
      z
        .string()
        .max(max * 300)
        .transform((v) =>
          v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
      z.array(z.string()),
    ])
    .pipe(z.array(item).max(max));

/**
 * A Host header value the exporter answers to: a name, an IPv4 address or a bracketed IPv6
 * address, with an optional port. Returned in the form the request check (http/auth.ts) compares:
 * lower case, no trailing dot, IPv4 and IPv6 in their canonical forms, the port as a number.
 */
export function normalizeHost(text: string): { host: string; port: string } | undefined {
  const t = text.trim();
  if (!/^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._-]{1,253})(?::\d{1,5})?$/.test(t)) return undefined;
  let u: URL;
  try {
    u = new URL(`http://${t}`);
  } catch {
    return undefined;
  }
  const port = /:(\d{1,5})$/.exec(t)?.[1];
  if (port !== undefined && Number(port) > 65535) return undefined;
  return { host: u.hostname.replace(/\.$/, ''), port: port === undefined ? '' : String(Number(port)) };
}

const AllowedHosts = z
  .union([
    z
      .string()
      .max(4000)
      .transform((v) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
    z.array(z.string().max(300)).max(100),
  ])
  .transform((list, ctx) => {
    const out: string[] = [];
    for (const entry of list) {
      const h = normalizeHost(entry);
      if (!h) {
        ctx.addIssue({
          code: 'custom',
          message: `"${entry}" is not a host name, IPv4 address or [IPv6] address with an optional :port`,
        });
        return z.NEVER;
      }
      out.push(h.port ? `${h.host}:${h.port}` : h.host);
    }
    if (out.length > 100) {
      ctx.addIssue({ code: 'custom', message: 'at most 100 hosts' });
      return z.NEVER;
    }
    return out;
  });

/** Grafana's base URL as the exporter reaches it (for its published ID-token keys). */
const GrafanaUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, "expected http(s)://host[:port][/sub/path], Grafana's root URL as the exporter reaches it, without credentials, query or fragment");

/** A host traffic tests run from or to (YAML only: credentials do not belong in the environment). */
const TrafficHost = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'lower-case letters, digits and -, starting with a letter, at most 32'),
    address: z
      .string()
      .max(253)
      .refine(isHostAddress, 'an IPv4 or IPv6 address, or a host name (letters, digits, . and -, not starting with -)'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a user name: lower-case letters, digits, _ and -, at most 32'),
    private_key_file: z.string().min(1).max(4096).optional(),
    agent: z.boolean().optional().meta({ description: 'authenticate through the SSH agent at SSH_AUTH_SOCK' }),
    passphrase_file: z.string().min(1).max(4096).optional(),
    host_key: z
      .string()
      .regex(FINGERPRINT_RE, 'a fingerprint as ssh-keygen -lf prints it: SHA256:<43 base64 characters>')
      .optional(),
    known_hosts_file: z.string().min(1).max(4096).optional(),
    iperf3_port: z
      .number()
      .int()
      .min(1024)
      .max(65535)
      .default(5201)
      .meta({ description: 'the port its iperf3 server listens on' }),
  })
  .superRefine((h, ctx) => {
    if ((h.private_key_file !== undefined) === (h.agent === true)) {
      ctx.addIssue({
        code: 'custom',
        path: ['private_key_file'],
        message: `host "${h.name}" needs exactly one of private_key_file and agent: true`,
      });
    }
    if (h.passphrase_file !== undefined && h.private_key_file === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['passphrase_file'],
        message: 'passphrase_file goes with private_key_file',
      });
    }
    if (h.host_key !== undefined && h.known_hosts_file !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['host_key'],
        message: `host "${h.name}": set host_key or known_hosts_file, not both`,
      });
    }
  });

const Traffic = z
  .strictObject({
    trust_on_first_use: Bool.default(false).meta({
      description: 'accept and store the first host key of a host without host_key or known_hosts_file',
    }),
    schedules_enabled: Bool.default(true),
    connect_timeout_seconds: z.number().int().min(1).max(120).default(10),
    remote_grace_seconds: z
      .number()
      .int()
      .min(1)
      .max(600)
      .default(20)
      .meta({ description: 'the remote `timeout` allows this much beyond the test duration' }),
    history_per_pair: z
      .number()
      .int()
      .min(10)
      .max(1_000_000)
      .default(1000)
      .meta({ description: 'finished tests kept per source, target, protocol and direction' }),
    hosts: z.array(TrafficHost).max(200).default([]),
  })
  .superRefine((t, ctx) => {
    for (const [i, h] of t.hosts.entries()) {
      if (t.hosts.findIndex((o) => o.name === h.name) !== i) {
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `host name "${h.name}" is used twice` });
      }
      if (!t.trust_on_first_use && h.host_key === undefined && h.known_hosts_file === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', i, 'host_key'],
          message: `host "${h.name}" needs host_key (SHA256:… from ssh-keygen -lf) or known_hosts_file; or set traffic.trust_on_first_use: true`,
        });
      }
    }
  });

/** TLS client files of a tcp:// Docker endpoint (YAML only), as `docker context` / DOCKER_CERT_PATH use them. */
const DockerTls = z.strictObject({
  ca_file: z.string().min(1).max(4096),
  cert_file: z.string().min(1).max(4096),
  key_file: z.string().min(1).max(4096),
});

const DockerEndpoint = z.strictObject({
  name: z.string().regex(ENDPOINT_NAME_RE, 'lower-case letters, digits, _ and -, starting with a letter, at most 32'),
  url: z.string().max(500).optional().meta({
    description:
      'unix:///var/run/docker.sock, tcp://host:2376 (needs tls) or http://host:2375 (plaintext socket proxy)',
  }),
  tls: DockerTls.optional(),
});

/**
 * An image registry the update check asks (YAML only: credentials do not belong in the
 * environment). Without an entry a registry is asked anonymously over https with the system CAs.
 */
const DockerRegistry = z
  .strictObject({
    host: z
      .string()
      .max(260)
      .regex(
        /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/,
        'a registry host as image names start with it: docker.io, ghcr.io, registry.lan:5000',
      ),
    username: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(4096).optional().meta({ description: 'or password_file' }),
    password_file: z.string().min(1).max(4096).optional().meta({ description: 'a file holding the password or token' }),
    ca_file: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .meta({ description: 'PEM CA that signed the registry certificate' }),
    http: Bool.default(false).meta({ description: 'plain HTTP (a registry on a trusted private network)' }),
  })
  .superRefine((r, ctx) => {
    const secret = r.password !== undefined || r.password_file !== undefined;
    if (r.password !== undefined && r.password_file !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: `registry "${r.host}": set password or password_file, not both`,
      });
    if (secret !== (r.username !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: `registry "${r.host}": username goes with password or password_file`,
      });
    if (r.http && r.ca_file !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['ca_file'],
        message: `registry "${r.host}": ca_file applies to https registries`,
      });
  });
export type DockerRegistryConfig = z.infer<typeof DockerRegistry>;

export interface DockerEndpointConfig {
  name: string;
  url: string;
  target: EndpointTarget;
  tls?: z.infer<typeof DockerTls> | undefined;
}

/**
 * Docker endpoints. `hosts` (LANSCAPE_DOCKER_HOSTS) replaces the `endpoints` list when set; an
 * entry of `endpoints` with the same name still gives it its TLS files (secrets stay in files).
 */
const Docker = z
  .strictObject({
    hosts: z.string().max(4000).optional().meta({ description: 'name=url pairs, comma-separated; replaces endpoints' }),
    endpoints: z.array(DockerEndpoint).max(50).default([]),
    resync_seconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(300)
      .meta({ description: 'full listing per endpoint besides the event stream' }),
    stats: Bool.default(true),
    stats_interval_seconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .default(30)
      .meta({ description: 'how often CPU and memory of running containers are read (in the background)' }),
    update_checks: Bool.default(true).meta({
      description: "compare running containers' image digests with their registries (manifest HEAD requests)",
    }),
    update_interval_seconds: z
      .number()
      .int()
      .min(300)
      .max(7 * 86_400)
      .default(21_600)
      .meta({ description: "how often each endpoint's images are checked for a newer build (±10 %)" }),
    update_concurrency: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(4)
      .meta({ description: 'registry requests at once during a check' }),
    registries: z.array(DockerRegistry).max(100).default([]),
  })
  .transform((d, ctx) => {
    const endpoints: DockerEndpointConfig[] = [];
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    for (const [i, r] of d.registries.entries()) {
      if (d.registries.findIndex((o) => o.host.toLowerCase() === r.host.toLowerCase()) !== i)
        fail(['registries', i, 'host'], `registry "${r.host}" is listed twice`);
    }
    for (const [i, e] of d.endpoints.entries()) {
      if (d.endpoints.findIndex((o) => o.name === e.name) !== i)
        fail(['endpoints', i, 'name'], `endpoint name "${e.name}" is used twice`);
    }
    const fromEnv = d.hosts !== undefined && d.hosts.trim() !== '';
    const list = fromEnv ? parseHostList(d.hosts!) : d.endpoints.map((e) => ({ name: e.name, url: e.url }));
    if (typeof list === 'string') {
      fail(['hosts'], list);
      return z.NEVER;
    }
    for (const [i, { name, url }] of list.entries()) {
      const at = (key: string): (string | number)[] => (fromEnv ? ['hosts'] : ['endpoints', i, key]);
      if (url === undefined) {
        fail(at('url'), `endpoint "${name}" needs a url`);
        continue;
      }
      const target = parseEndpointUrl(url);
      if (typeof target === 'string') {
        fail(at('url'), `endpoint "${name}": ${target}`);
        continue;
      }
      const tls = d.endpoints.find((e) => e.name === name)?.tls;
      if (target.kind === 'tcp' && !tls) {
        fail(
          at('url'),
          `endpoint "${name}": ${url} needs TLS files (docker.endpoints[].tls: ca_file, cert_file, key_file in the YAML file); ` +
            `for a socket proxy on a private network without TLS write http://${url.slice('tcp://'.length)}`,
        );
        continue;
      }
      if (target.kind !== 'tcp' && tls) {
        fail(fromEnv ? ['hosts'] : ['endpoints', i, 'tls'], `endpoint "${name}": tls applies to tcp:// endpoints only`);
        continue;
      }
      endpoints.push({ name, url, target, ...(tls ? { tls } : {}) });
    }
    return {
      endpoints,
      resync_seconds: d.resync_seconds,
      stats: d.stats,
      stats_interval_seconds: d.stats_interval_seconds,
      update_checks: d.update_checks,
      update_interval_seconds: d.update_interval_seconds,
      update_concurrency: d.update_concurrency,
      registries: d.registries,
    };
  });

/** Proxmox VE: off unless url, token_id and token_secret are set. TLS: fingerprint pin, CA file, or the system CAs. */
const Proxmox = z
  .strictObject({
    url: z
      .string()
      .max(2000)
      .refine((v) => {
        try {
          const u = new URL(v);
          return (
            u.protocol === 'https:' &&
            !u.username &&
            !u.password &&
            !u.search &&
            !u.hash &&
            (u.pathname === '/' || u.pathname === '')
          );
        } catch {
          return false;
        }
      }, 'expected https://host[:port] (the API token is never sent over plain HTTP)')
      .optional(),
    token_id: z
      .string()
      .regex(PVE_TOKEN_ID_RE, 'expected user@realm!tokenid, as Proxmox shows the API token')
      .optional(),
    token_secret: z
      .string()
      .min(8)
      .max(256)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
      .optional(),
    fingerprint: z
      .string()
      .regex(
        PVE_FINGERPRINT_RE,
        'the SHA-256 fingerprint as Proxmox shows it: 32 hex byte pairs separated by colons (AA:BB:…)',
      )
      .optional(),
    ca_file: z.string().min(1).max(4096).optional(),
    interval_seconds: z.number().int().min(10).max(86_400).default(60).meta({ description: 'inventory interval' }),
    timeout_seconds: z.number().int().min(1).max(300).default(15).meta({ description: 'per API request' }),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(4)
      .meta({ description: 'API requests at once during an inventory' }),
    max_guests: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(2000)
      .meta({ description: 'running guests whose addresses are read per inventory' }),
    task_poll_ms: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(1000)
      .meta({ description: 'how often a VM job asks for the state of a Proxmox task' }),
    task_timeout_seconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(1800)
      .meta({ description: 'longest a Proxmox task of a VM job may run' }),
  })
  .superRefine((p, ctx) => {
    const set = [p.url, p.token_id, p.token_secret].filter((v) => v !== undefined).length;
    if (set > 0 && set < 3) {
      ctx.addIssue({
        code: 'custom',
        path: [p.url === undefined ? 'url' : p.token_id === undefined ? 'token_id' : 'token_secret'],
        message:
          'Proxmox needs url, token_id and token_secret together (LANSCAPE_PROXMOX_URL, _TOKEN_ID, _TOKEN_SECRET)',
      });
    }
    if (p.fingerprint !== undefined && p.ca_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['fingerprint'], message: 'set fingerprint or ca_file, not both' });
    }
  });

const ReportInterval = z
  .number()
  .int(`whole seconds, ${REPORT_INTERVAL_RANGE}`)
  .min(REPORT_INTERVAL.min, `at least ${REPORT_INTERVAL.min} s (${REPORT_INTERVAL_RANGE})`)
  .max(
    REPORT_INTERVAL.max,
    `at most ${REPORT_INTERVAL.max} s (${REPORT_INTERVAL_RANGE}): central calls an agent down after 3 intervals`,
  );

export const ConfigSchema = z
  .strictObject({
    listen: Listen.default(':9645'),
    db: z.string().min(1).max(4096).default('./data/lanscape.db'),
    db_synchronous: z.enum(['normal', 'full']).default('normal'),
    /** PostgreSQL instead of the SQLite file `db` (#14): several exporters may share it. */
    database: z
      .strictObject({
        url: DatabaseUrl.optional(),
        pool_size: z.number().int().min(2).max(200).default(10),
      })
      .default({ pool_size: 10 }),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    body_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    import_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    tokens: z
      .strictObject({
        read: Token.optional(),
        write: Token.optional(),
        admin: Token.optional(),
        named: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case name, letters, digits, _ and -'),
              token: Token,
              scope: z.enum(SCOPES),
            }),
          )
          .max(100)
          .default([]),
        grafana_proxy: NameList(
          103,
          z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a token name: read, write, admin or a named token'),
        )
          .default([])
          .meta({
            description:
              "names of the tokens Grafana's plugin proxy sends; only their requests may name a Grafana user",
          }),
      })
      .default({ named: [], grafana_proxy: [] })
      .refine((t) => {
        const values = [t.read, t.write, t.admin, ...t.named.map((n) => n.token)].filter((v) => v !== undefined);
        return new Set(values).size === values.length;
      }, 'every token must be different (the same token with two scopes would get the first match)')
      .refine(
        (t) =>
          t.named.every(
            (n, i) => !['read', 'write', 'admin'].includes(n.name) && t.named.findIndex((m) => m.name === n.name) === i,
          ),
        'named tokens need unique names other than read, write and admin (those name the LANSCAPE_*_TOKEN ones)',
      )
      .superRefine((t, ctx) => {
        const configured = [...SCOPES.filter((s) => t[s] !== undefined), ...t.named.map((n) => n.name)];
        for (const name of t.grafana_proxy) {
          if (!configured.includes(name)) {
            ctx.addIssue({
              code: 'custom',
              path: ['grafana_proxy'],
              message: `"${name}" is not a configured token (configured: ${configured.join(', ') || 'none'})`,
            });
          }
        }
      }),
    grafana: z
      .strictObject({
        url: GrafanaUrl.optional().meta({
          description:
            "Grafana's root URL as the exporter reaches it: the Grafana user is then taken only from the " +
            'X-Grafana-Id token Grafana signs, checked against the keys at <url>/api/signing-keys/keys',
        }),
      })
      .prefault({}),
    allowed_hosts: AllowedHosts.default([]).meta({
      description: 'Host header values answered (guards against DNS rebinding); empty: any',
    }),
    auth_failures_per_minute: z.number().int().min(0).max(100_000).default(20).meta({
      description: 'failed authentications per client address and minute before it gets 429; 0 turns this off',
    }),
    metrics: z
      .strictObject({
        username: z.string().min(1).max(128).optional(),
        password: z.string().min(8).max(512).optional(),
        max_subnet_series: z.number().int().min(0).max(1_000_000).default(2000).meta({
          description:
            'subnets with per-subnet series (alert-relevant first, then the fullest, then the oldest); totals count all',
        }),
        max_host_series: z.number().int().min(0).max(1_000_000).default(2000).meta({
          description:
            'tracked hosts with per-host series (critical or MAC conflict, then reserved/assigned, then the rest, by address)',
        }),
      })
      .refine(
        (m) => (m.username === undefined) === (m.password === undefined),
        'set both username and password, or neither',
      )
      .prefault({}),
    tls: z
      .strictObject({
        cert_file: z.string().min(1).optional(),
        key_file: z.string().min(1).optional(),
      })
      .refine(
        (t) => (t.cert_file === undefined) === (t.key_file === undefined),
        'set both cert_file and key_file, or neither',
      )
      .default({}),
    scan: z
      .strictObject({
        enabled: Bool.default(true),
        pps: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(500)
          .meta({ description: 'ICMP packets per second; gentle by default' }),
        timeout_ms: z.number().int().min(50).max(60_000).default(1000),
        retries: z.number().int().min(0).max(5).default(1),
        max_in_flight: z.number().int().min(1).max(60_000).default(10_000),
        max_prefix: z
          .number()
          .int()
          .min(8)
          .max(32)
          .default(16)
          .meta({ description: 'largest IPv4 sweep allowed, as a prefix length' }),
        interval_seconds: z.number().int().min(10).max(604_800).default(300),
        jitter_ratio: z.number().min(0).max(0.5).default(0.1),
        down_after: z.number().int().min(1).max(100).default(3),
        manual_min_interval_seconds: z.number().int().min(0).max(86_400).default(30),
        max_queued: z.number().int().min(1).max(10_000).default(64).meta({
          description: 'manual sweeps waiting at once (more get 429); scheduled sweeps have a lane of the same size',
        }),
        stale_after_hours: z.number().int().min(1).max(87_600).default(168),
        ports: z
          .union([
            PortList,
            z.array(z.object({ port: z.number().int().min(1).max(65535), service: z.string().nullable() })),
          ])
          .optional(),
        port_timeout_ms: z.number().int().min(50).max(30_000).default(1000),
        port_concurrency: z.number().int().min(1).max(2000).default(200),
        enrich_budget_seconds: z.number().min(1).max(3600).default(30).meta({
          description:
            'per scan, the time port checks and PTR lookups may take after the sweep pass; what is left is done by the next scan',
        }),
        port_interval_seconds: z.number().int().min(0).max(604_800).default(900),
        nmap: Bool.default(false),
        nmap_interval_seconds: z.number().int().min(60).max(604_800).default(3600),
        rdns: Bool.default(true),
        dns_servers: z
          .union([
            z
              .string()
              .max(500)
              .transform((v) =>
                v
                  .split(',')
                  .map((x) => x.trim())
                  .filter(Boolean),
              ),
            z.array(z.string()),
          ])
          .optional(),
        history_raw_days: z.number().int().min(1).max(365).default(7),
        history_hourly_days: z.number().int().min(1).max(3650).default(90),
      })
      .prefault({}),
    /** Remote scan agents (#15): how often they report, for all or per agent (by name). */
    agents: z
      .strictObject({
        report_interval_seconds: ReportInterval.default(REPORT_INTERVAL.default).meta({
          description: `how often agents ask for their assignments (their heartbeat), ${REPORT_INTERVAL_RANGE} s; down after 3 of these`,
        }),
        report_intervals: z
          .record(z.string(), ReportInterval)
          .superRefine((m, ctx) => {
            // A key check of its own: zod's record key issue says only "Invalid key in record".
            for (const name of Object.keys(m).filter((k) => !AGENT_NAME_RE.test(k)))
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message: `"${name}" is not an agent name (letters, digits, ".", "_" and "-", at most 64)`,
              });
          })
          .default({})
          .meta({ description: 'per agent (by name): its report interval instead of report_interval_seconds' }),
      })
      .prefault({}),
    traffic: Traffic.prefault({}),
    docker: Docker.prefault({}),
    proxmox: Proxmox.prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.grafana.url !== undefined && c.tokens.grafana_proxy.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['grafana', 'url'],
        message:
          "the Grafana URL checks the ID tokens Grafana's proxy forwards: also name the tokens it uses " +
          '(tokens.grafana_proxy, LANSCAPE_GRAFANA_PROXY_TOKENS, e.g. read,write,admin)',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variables and the config path each one sets; `int` ones must be whole numbers. */
export const ENV_VARS: readonly { name: string; path: string[]; int?: boolean; secret?: boolean; doc: string }[] = [
  {
    name: 'LANSCAPE_LISTEN',
    path: ['listen'],
    doc: 'listen address, `:9645`, `127.0.0.1:9700`, `[::1]:9645`, or `unix:/run/lanscape.sock`',
  },
  { name: 'LANSCAPE_DB', path: ['db'], doc: 'SQLite file of the store' },
  {
    name: 'LANSCAPE_DATABASE_URL',
    path: ['database', 'url'],
    secret: true,
    doc: 'PostgreSQL instead of the SQLite file, `postgres://user:password@host:5432/lanscape` (`?sslmode=verify-full` for TLS); several exporters may share one database',
  },
  {
    name: 'LANSCAPE_DATABASE_POOL_SIZE',
    path: ['database', 'pool_size'],
    int: true,
    doc: 'connections each exporter keeps to PostgreSQL (2–200)',
  },
  {
    name: 'LANSCAPE_DB_SYNCHRONOUS',
    path: ['db_synchronous'],
    doc: '`normal` survives a crash of the exporter; `full` also survives power loss (slower writes)',
  },
  { name: 'LANSCAPE_LOG_LEVEL', path: ['log_level'], doc: 'fatal, error, warn, info, debug, trace, silent' },
  {
    name: 'LANSCAPE_BODY_LIMIT_BYTES',
    path: ['body_limit_bytes'],
    int: true,
    doc: 'largest JSON request body (1 KiB–64 MiB)',
  },
  {
    name: 'LANSCAPE_IMPORT_LIMIT_BYTES',
    path: ['import_limit_bytes'],
    int: true,
    doc: 'largest CSV import body (1 KiB–256 MiB)',
  },
  {
    name: 'LANSCAPE_READ_TOKEN',
    path: ['tokens', 'read'],
    secret: true,
    doc: 'bearer token with read scope (≥ 24 characters, not one repeated character)',
  },
  {
    name: 'LANSCAPE_WRITE_TOKEN',
    path: ['tokens', 'write'],
    secret: true,
    doc: 'bearer token with write scope (includes read)',
  },
  {
    name: 'LANSCAPE_ADMIN_TOKEN',
    path: ['tokens', 'admin'],
    secret: true,
    doc: 'bearer token with admin scope (includes write)',
  },
  {
    name: 'LANSCAPE_GRAFANA_PROXY_TOKENS',
    path: ['tokens', 'grafana_proxy'],
    doc: "names of the tokens Grafana's plugin proxy uses, `read,write,admin`: only their requests may name a Grafana user (X-Grafana-User / X-Grafana-Id) for the audit log",
  },
  {
    name: 'LANSCAPE_GRAFANA_URL',
    path: ['grafana', 'url'],
    doc: "Grafana's root URL as the exporter reaches it, `http://127.0.0.1:3000`: the Grafana user then comes only from the ID token Grafana signs (X-Grafana-Id), checked against `<url>/api/signing-keys/keys`",
  },
  {
    name: 'LANSCAPE_ALLOWED_HOSTS',
    path: ['allowed_hosts'],
    doc: 'Host header values the exporter answers, `127.0.0.1,localhost,exporter.lan:9645` (a name without port matches any port); others get 421 (against DNS rebinding); `/healthz` and `/readyz` stay open. Empty: any host',
  },
  {
    name: 'LANSCAPE_AUTH_FAILURES_PER_MINUTE',
    path: ['auth_failures_per_minute'],
    int: true,
    doc: 'wrong tokens (or /metrics passwords) per client address and minute before that address gets 429 with Retry-After for the rest of the minute (0–100000, 0 = off)',
  },
  {
    name: 'LANSCAPE_METRICS_USERNAME',
    path: ['metrics', 'username'],
    doc: 'basic-auth user for `/metrics` (optional)',
  },
  {
    name: 'LANSCAPE_METRICS_PASSWORD',
    path: ['metrics', 'password'],
    secret: true,
    doc: 'basic-auth password for `/metrics`',
  },
  {
    name: 'LANSCAPE_METRICS_MAX_SUBNETS',
    path: ['metrics', 'max_subnet_series'],
    int: true,
    doc: 'subnets with per-subnet series (0–1000000): alert-relevant ones first (nearly full, sweeps failing or stale), then the fullest, then the oldest; the others have none, totals still count them',
  },
  {
    name: 'LANSCAPE_METRICS_MAX_HOSTS',
    path: ['metrics', 'max_host_series'],
    int: true,
    doc: 'tracked hosts with per-host series (0–1000000): tagged `critical` or in a MAC conflict first, then reserved/assigned by a person, other IPAM addresses, unrecorded alive ones; by address within each',
  },
  {
    name: 'LANSCAPE_TLS_CERT_FILE',
    path: ['tls', 'cert_file'],
    doc: 'serve HTTPS with this PEM certificate (optional)',
  },
  { name: 'LANSCAPE_TLS_KEY_FILE', path: ['tls', 'key_file'], doc: 'PEM private key for the certificate' },
  { name: 'LANSCAPE_SCAN_PPS', path: ['scan', 'pps'], int: true, doc: 'ICMP packets per second (1–100000)' },
  {
    name: 'LANSCAPE_SCAN_TIMEOUT_MS',
    path: ['scan', 'timeout_ms'],
    int: true,
    doc: 'per-host ICMP timeout in ms (50–60000)',
  },
  {
    name: 'LANSCAPE_SCAN_MAX_PREFIX',
    path: ['scan', 'max_prefix'],
    int: true,
    doc: 'largest sweep allowed as an IPv4 prefix length (8–32)',
  },
  {
    name: 'LANSCAPE_SCAN_ENABLED',
    path: ['scan', 'enabled'],
    doc: '`false` turns off scheduled sweeps (manual scans still work)',
  },
  {
    name: 'LANSCAPE_SCAN_RETRIES',
    path: ['scan', 'retries'],
    int: true,
    doc: 'extra ICMP tries per host after a timeout (0–5)',
  },
  {
    name: 'LANSCAPE_SCAN_MAX_IN_FLIGHT',
    path: ['scan', 'max_in_flight'],
    int: true,
    doc: 'accepted for old configurations; the sweep is paced by `pps` alone and matches replies per target (1–60000)',
  },
  {
    name: 'LANSCAPE_SCAN_INTERVAL_SECONDS',
    path: ['scan', 'interval_seconds'],
    int: true,
    doc: 'default sweep interval per subnet (10–604800)',
  },
  {
    name: 'LANSCAPE_SCAN_DOWN_AFTER',
    path: ['scan', 'down_after'],
    int: true,
    doc: 'consecutive missed sweeps before a host is down (1–100)',
  },
  {
    name: 'LANSCAPE_SCAN_PORTS',
    path: ['scan', 'ports'],
    doc: 'TCP ports checked on alive hosts, `22,80/http,443/https` (default: common service ports)',
  },
  {
    name: 'LANSCAPE_SCAN_NMAP',
    path: ['scan', 'nmap'],
    doc: '`true` runs `nmap -sV` hourly per alive host when nmap is installed',
  },
  { name: 'LANSCAPE_SCAN_RDNS', path: ['scan', 'rdns'], doc: '`false` turns off reverse DNS (PTR) lookups' },
  {
    name: 'LANSCAPE_SCAN_MAX_QUEUED',
    path: ['scan', 'max_queued'],
    int: true,
    doc: 'manual sweeps waiting at once (1–10000); more get 429 with Retry-After. Scheduled sweeps have their own lane of this size and alternate with manual ones',
  },
  {
    name: 'LANSCAPE_SCAN_DNS_SERVERS',
    path: ['scan', 'dns_servers'],
    doc: "resolvers for PTR lookups, `192.0.2.53,[2001:db8::53]:53` (default: the system's)",
  },
  {
    name: 'LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS',
    path: ['agents', 'report_interval_seconds'],
    int: true,
    doc: `how often remote scan agents report (${REPORT_INTERVAL_RANGE} s), handed out with their assignments; an agent is down after 3 intervals without a word. Per agent: \`agents.report_intervals\` in the YAML file (\`{site-a: 300}\`)`,
  },
  {
    name: 'LANSCAPE_DOCKER_HOSTS',
    path: ['docker', 'hosts'],
    doc: 'Docker endpoints, `local=unix:///var/run/docker.sock,nas=tcp://nas:2376`; tcp:// needs TLS files in the YAML file, http:// is plaintext (socket proxy)',
  },
  {
    name: 'LANSCAPE_DOCKER_RESYNC_SECONDS',
    path: ['docker', 'resync_seconds'],
    int: true,
    doc: 'full Docker listing per endpoint besides the event stream (10–86400)',
  },
  {
    name: 'LANSCAPE_DOCKER_STATS',
    path: ['docker', 'stats'],
    doc: '`false` turns off container CPU and memory metrics',
  },
  {
    name: 'LANSCAPE_DOCKER_UPDATE_CHECKS',
    path: ['docker', 'update_checks'],
    doc: '`false` turns off the check of running images against their registries',
  },
  {
    name: 'LANSCAPE_DOCKER_UPDATE_INTERVAL_SECONDS',
    path: ['docker', 'update_interval_seconds'],
    int: true,
    doc: "how often each endpoint's running images are compared with their registries (300–604800, ±10 %)",
  },
  {
    name: 'LANSCAPE_PROXMOX_URL',
    path: ['proxmox', 'url'],
    doc: 'Proxmox VE API, `https://pve.lan:8006` (Proxmox is off without it)',
  },
  { name: 'LANSCAPE_PROXMOX_TOKEN_ID', path: ['proxmox', 'token_id'], doc: 'API token id, `user@realm!tokenid`' },
  { name: 'LANSCAPE_PROXMOX_TOKEN_SECRET', path: ['proxmox', 'token_secret'], secret: true, doc: 'API token secret' },
  {
    name: 'LANSCAPE_PROXMOX_FINGERPRINT',
    path: ['proxmox', 'fingerprint'],
    doc: 'pin the SHA-256 fingerprint of the PVE certificate, `AA:BB:…` as PVE shows it',
  },
  {
    name: 'LANSCAPE_PROXMOX_CA_FILE',
    path: ['proxmox', 'ca_file'],
    doc: 'or: PEM CA that signed the PVE certificate (e.g. a copy of /etc/pve/pve-root-ca.pem)',
  },
  {
    name: 'LANSCAPE_PROXMOX_INTERVAL_SECONDS',
    path: ['proxmox', 'interval_seconds'],
    int: true,
    doc: 'inventory interval (10–86400)',
  },
];
