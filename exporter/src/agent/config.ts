// The agent's settings (#15), from LANSCAPE_AGENT_* variables (pure: env in, settings or one
// clear error out). The scan settings come from central with the assignments.
import { isAbsolute, resolve } from 'node:path';
import { REPORT_INTERVAL, REPORT_INTERVAL_RANGE } from '../shared/agents.js';

export interface AgentConfig {
  /** https://central:9645, http://127.0.0.1:… (loopback only), or unix:/path (a co-located central). */
  centralUrl: string;
  token: string;
  caFile: string | undefined;
  fingerprint: string | undefined;
  queueDir: string;
  /** Most result batches the disk queue holds; the oldest go first beyond it. */
  queueMax: number;
  /** Where the agent's own /metrics listens ("off": nowhere). */
  listen: string;
  /** The URL central gives Prometheus for the agent's /metrics (http_sd); default from listen. */
  metricsUrl: string | undefined;
  logLevel: string;
  /**
   * Report more often than central asks (s; --interval, LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS).
   * Undefined: central's interval. A longer one than central's is not used (runner.ts).
   */
  reportIntervalSeconds: number | undefined;
}

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

const FINGERPRINT_RE = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function agentConfigFrom(env: NodeJS.ProcessEnv): AgentConfig {
  const need = (name: string) => {
    const v = env[name]?.trim();
    if (!v) throw new AgentConfigError(`${name} is required`);
    return v;
  };
  const centralUrl = need('LANSCAPE_AGENT_CENTRAL_URL').replace(/\/+$/, '');
  if (centralUrl.startsWith('unix:')) {
    if (!isAbsolute(centralUrl.slice('unix:'.length)))
      throw new AgentConfigError('LANSCAPE_AGENT_CENTRAL_URL: unix:/absolute/path/to/central.sock');
  } else {
    let u: URL;
    try {
      u = new URL(centralUrl);
    } catch {
      throw new AgentConfigError(`LANSCAPE_AGENT_CENTRAL_URL is not a URL: ${centralUrl}`);
    }
    const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(u.hostname);
    if (u.protocol === 'http:' && !loopback)
      throw new AgentConfigError(
        'LANSCAPE_AGENT_CENTRAL_URL must be https:// (plain http only to a loopback address); pin central with LANSCAPE_AGENT_FINGERPRINT or LANSCAPE_AGENT_CA_FILE',
      );
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new AgentConfigError(`LANSCAPE_AGENT_CENTRAL_URL: https://host:port, not ${u.protocol}`);
    if (u.pathname !== '/' || u.search)
      throw new AgentConfigError('LANSCAPE_AGENT_CENTRAL_URL: scheme, host and port only (no path)');
  }
  const token = need('LANSCAPE_AGENT_TOKEN');
  if (!/^lsa_[1-9][0-9]{0,9}_[A-Za-z0-9_-]{43}$/.test(token))
    throw new AgentConfigError(
      'LANSCAPE_AGENT_TOKEN is not an agent token (POST /api/v1/agents answers one: lsa_<id>_<secret>)',
    );
  const caFile = env.LANSCAPE_AGENT_CA_FILE?.trim() || undefined;
  const fingerprint = env.LANSCAPE_AGENT_FINGERPRINT?.trim() || undefined;
  if (caFile && fingerprint)
    throw new AgentConfigError('set LANSCAPE_AGENT_CA_FILE or LANSCAPE_AGENT_FINGERPRINT, not both');
  if (fingerprint && !FINGERPRINT_RE.test(fingerprint))
    throw new AgentConfigError(
      'LANSCAPE_AGENT_FINGERPRINT: the SHA-256 fingerprint of central’s certificate, 32 hex pairs separated by ":" ' +
        '(openssl x509 -noout -fingerprint -sha256 -in cert.pem)',
    );
  if ((caFile || fingerprint) && !centralUrl.startsWith('https:'))
    throw new AgentConfigError('LANSCAPE_AGENT_CA_FILE / LANSCAPE_AGENT_FINGERPRINT need an https:// central URL');
  const queueMaxText = env.LANSCAPE_AGENT_QUEUE_MAX?.trim() || '1000';
  if (!/^[1-9][0-9]{0,6}$/.test(queueMaxText))
    throw new AgentConfigError(`LANSCAPE_AGENT_QUEUE_MAX: a whole number of batches, 1–9999999, not ${queueMaxText}`);
  const listen = env.LANSCAPE_AGENT_LISTEN?.trim() || '127.0.0.1:9646';
  if (listen !== 'off' && !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(listen))
    throw new AgentConfigError(`LANSCAPE_AGENT_LISTEN: host:port or off, not ${listen}`);
  const metricsUrl = env.LANSCAPE_AGENT_METRICS_URL?.trim() || undefined;
  if (metricsUrl && !/^https?:\/\/[^/]+\/\S*$/.test(metricsUrl))
    throw new AgentConfigError(`LANSCAPE_AGENT_METRICS_URL: http(s)://host:port/metrics, not ${metricsUrl}`);
  const intervalText = env.LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS?.trim() || undefined;
  const interval = intervalText === undefined ? undefined : /^\d{1,6}$/.test(intervalText) ? Number(intervalText) : NaN;
  if (interval !== undefined && !(interval >= REPORT_INTERVAL.min && interval <= REPORT_INTERVAL.max))
    throw new AgentConfigError(
      `--interval / LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: whole seconds, ${REPORT_INTERVAL_RANGE}, not ${intervalText}`,
    );
  const logLevel = env.LANSCAPE_LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new AgentConfigError(`LANSCAPE_LOG_LEVEL: one of ${LOG_LEVELS.join(', ')}, not ${logLevel}`);
  return {
    centralUrl,
    token,
    caFile,
    fingerprint,
    queueDir: resolve(env.LANSCAPE_AGENT_QUEUE_DIR?.trim() || './data/agent-queue'),
    queueMax: Number(queueMaxText),
    listen,
    metricsUrl,
    logLevel,
    reportIntervalSeconds: interval,
  };
}
