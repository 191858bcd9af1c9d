// Service/version detection with nmap. Only this module talks to the nmap binary: it validates
// every argument itself, builds the argv (never a shell string) and parses nmap's XML output.
import { spawn } from 'node:child_process';
import { isIP } from 'node:net';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface NmapService {
  port: number;
  protocol: 'tcp' | 'udp';
  /** nmap's port state: open, closed, filtered, open|filtered, ... */
  state: string;
  /** nmap's service name ("http", "ssh", "unknown", ...); null when nmap reported none. */
  service: string | null;
  product: string | null;
  version: string | null;
  extraInfo: string | null;
}

export interface NmapHost {
  address: string;
  status: 'up' | 'down' | 'unknown';
  services: NmapService[];
}

/** The input was not well-formed XML, or not an nmap XML report. */
export class NmapParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NmapParseError';
  }
}

export const MAX_PORTS = 100;
export const DEFAULT_TIMEOUT_MS = 120_000;

// Elements that nmap may emit once or many times. Without this the parser yields an object for
// one occurrence and an array for several, and a one-port scan would be read differently.
const ARRAY_PATHS = new Set(['nmaprun.host', 'nmaprun.host.address', 'nmaprun.host.ports.port']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // Attribute values stay strings: "0.6" is a version, not a number; ports are converted below.
  parseAttributeValue: false,
  parseTagValue: false,
  jPath: true,
  isArray: (_name, jPath, _leaf, isAttribute) => !isAttribute && typeof jPath === 'string' && ARRAY_PATHS.has(jPath),
});

type XmlNode = Record<string, unknown>;

const isNode = (v: unknown): v is XmlNode => typeof v === 'object' && v !== null && !Array.isArray(v);
// For the ARRAY_PATHS elements: the parser always yields an array there (absent = undefined).
const nodes = (v: unknown): XmlNode[] => (Array.isArray(v) ? v.filter(isNode) : []);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Parses `nmap -oX` output; throws NmapParseError with a clear message on malformed XML or a document that is not nmap output. */
export function parseNmapXml(xml: string): NmapHost[] {
  if (typeof xml !== 'string' || xml.trim() === '') throw new NmapParseError('nmap XML is empty');
  // Validate first: the parser itself is lenient and would turn a truncated report (nmap killed
  // mid-scan) into a plausible-looking partial result.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new NmapParseError(`malformed nmap XML at line ${line}, column ${col}: ${msg}`);
  }
  const doc: unknown = parser.parse(xml);
  const root = isNode(doc) ? doc['nmaprun'] : undefined;
  if (!isNode(root)) {
    const found = isNode(doc)
      ? Object.keys(doc)
          .filter((k) => !k.startsWith('?'))
          .join(', ')
      : '';
    throw new NmapParseError(
      `not an nmap XML report: expected a <nmaprun> root element${found ? `, found <${found}>` : ''}`,
    );
  }
  return nodes(root['host']).map(parseHost);
}

function parseHost(host: XmlNode): NmapHost {
  const addresses = nodes(host['address']);
  // A host on the local segment also carries its MAC address; the IP address identifies it.
  const ip = addresses.find((a) => a['addrtype'] === 'ipv4' || a['addrtype'] === 'ipv6') ?? addresses[0];
  const address = text(ip?.['addr']);
  if (address === null) throw new NmapParseError('not an nmap XML report: <host> without an <address addr="...">');
  const state = isNode(host['status']) ? host['status']['state'] : undefined;
  const status = state === 'up' || state === 'down' ? state : 'unknown';
  const ports = isNode(host['ports']) ? nodes(host['ports']['port']) : [];
  const services: NmapService[] = [];
  for (const port of ports) {
    const protocol = port['protocol'];
    // Only TCP and UDP are modelled; nmap's sctp/ip results are dropped rather than mislabelled.
    if (protocol !== 'tcp' && protocol !== 'udp') continue;
    const portid = Number(port['portid']);
    if (!Number.isInteger(portid) || portid < 1 || portid > 65535) {
      throw new NmapParseError(`not an nmap XML report: invalid portid ${JSON.stringify(port['portid'])}`);
    }
    const svc = isNode(port['service']) ? port['service'] : {};
    services.push({
      port: portid,
      protocol,
      state: (isNode(port['state']) ? text(port['state']['state']) : null) ?? 'unknown',
      service: text(svc['name']),
      product: text(svc['product']),
      version: text(svc['version']),
      extraInfo: text(svc['extrainfo']),
    });
  }
  return { address, status, services };
}

let available: Promise<boolean> | undefined;

/** True when an nmap binary is on PATH (cache the answer). */
export function nmapAvailable(): Promise<boolean> {
  // Cached as a promise so concurrent callers share one probe.
  available ??= new Promise((resolve) => {
    const child = spawn('nmap', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
  return available;
}

function validatePorts(ports: number[]): number[] {
  if (!Array.isArray(ports)) throw new TypeError('ports must be an array of port numbers');
  for (const p of ports) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
      throw new TypeError(`invalid port ${String(p)}: ports must be integers from 1 to 65535`);
    }
  }
  const unique = [...new Set(ports)].sort((a, b) => a - b);
  if (unique.length < 1 || unique.length > MAX_PORTS) {
    throw new TypeError(`between 1 and ${MAX_PORTS} distinct ports are required, got ${unique.length}`);
  }
  return unique;
}

/**
 * Runs `nmap -sV -Pn -n -oX - --host-timeout <s> -p <ports> <address>` (service/version detection of the given TCP ports on one host) and parses it.
 * address must be an IPv4 or IPv6 literal (validate with node:net isIP; reject anything else BEFORE spawning, with a clear error);
 * ports must be integers 1-65535 (1 to 100 of them, deduplicated, sorted). Arguments are passed as an argv array (spawn, no shell).
 * IPv6 adds -6. A hard timeout kills the process (SIGKILL after timeoutMs, default 120000) and rejects with a clear error.
 * Rejects with the stderr text when nmap exits non-zero.
 *
 * Invalid arguments reject with a TypeError; everything else with an Error. Resolves null when
 * nmap reports no host (e.g. nmap's own --host-timeout skipped it).
 */
export async function runNmap(
  address: string,
  ports: number[],
  opts: { timeoutMs?: number; nmapPath?: string } = {},
): Promise<NmapHost | null> {
  // isIP accepts only literals, so hostnames (DNS, /etc/hosts), CIDR ranges, option-looking
  // strings ("-sS") and shell syntax never reach nmap.
  const family = typeof address === 'string' ? isIP(address) : 0;
  if (family === 0)
    throw new TypeError(`invalid address ${JSON.stringify(address)}: an IPv4 or IPv6 literal is required`);
  const portList = validatePorts(ports);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`invalid timeoutMs ${timeoutMs}`);
  const nmapPath = opts.nmapPath ?? 'nmap';

  // nmap's own host timeout fires a little before the hard kill, so a slow host normally ends
  // in a clean (empty) report instead of a killed process.
  const hostTimeoutS = Math.max(1, Math.floor(timeoutMs / 1000) - 5);
  const args = ['-sV', '-Pn', '-n', '-oX', '-', '--host-timeout', `${hostTimeoutS}s`, '-p', portList.join(',')];
  if (family === 6) args.push('-6');
  args.push(address);

  const xml = await new Promise<string>((resolve, reject) => {
    // detached: nmap gets its own process group, so the timeout can kill it together with
    // anything it started (a wrapper script's children included).
    const child = spawn(nmapPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); // negative pid: the whole group
      } catch {
        child.kill('SIGKILL'); // no such group any more; make sure the child itself is gone
      }
    }, timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'not executable' : err.message;
      reject(new Error(`cannot run nmap at ${JSON.stringify(nmapPath)}: ${why}`));
    });
    // 'close' (not 'exit'): the process has ended and its output is complete. Rejecting only
    // here means a timed-out nmap is really gone when the caller sees the error.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`nmap scan of ${address} timed out after ${timeoutMs} ms and was killed`));
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (code !== 0) {
        return reject(
          new Error(`nmap exited with ${code === null ? `signal ${signal}` : `code ${code}`}${err ? `: ${err}` : ''}`),
        );
      }
      resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
  return parseNmapXml(xml)[0] ?? null;
}
