// The ports checked on alive hosts by default, with the service names shown on port chips.
export interface PortSpec {
  readonly port: number;
  readonly service: string | null;
}

export const DEFAULT_PORTS: readonly PortSpec[] = [
  [21, 'ftp'],
  [22, 'ssh'],
  [23, 'telnet'],
  [25, 'smtp'],
  [53, 'dns'],
  [80, 'http'],
  [110, 'pop3'],
  [139, 'netbios'],
  [143, 'imap'],
  [443, 'https'],
  [445, 'smb'],
  [631, 'ipp'],
  [1883, 'mqtt'],
  [2375, 'docker'],
  [2376, 'docker-tls'],
  [3000, 'grafana'],
  [3306, 'mysql'],
  [3389, 'rdp'],
  [5432, 'postgresql'],
  [5900, 'vnc'],
  [6379, 'redis'],
  [6443, 'kubernetes'],
  [8006, 'proxmox'],
  [8080, 'http-alt'],
  [8123, 'home-assistant'],
  [8443, 'https-alt'],
  [9090, 'prometheus'],
  [9093, 'alertmanager'],
  [9100, 'node-exporter'],
  [9645, 'lanscape'],
].map(([port, service]) => ({ port: port as number, service: service as string }));

const NAMES = new Map(DEFAULT_PORTS.map((p) => [p.port, p.service]));

/** The configured list with names filled in from the defaults where the configuration gave none. */
export function withServiceNames(ports: readonly PortSpec[]): PortSpec[] {
  const seen = new Set<number>();
  return ports
    .filter((p) => !seen.has(p.port) && seen.add(p.port))
    .map((p) => ({ port: p.port, service: p.service ?? NAMES.get(p.port) ?? null }));
}

/** An open port as stored on a host (hosts.ports, JSON) and shown on its chip. */
export interface StoredPort {
  port: number;
  protocol: 'tcp';
  service: string | null;
  product: string | null;
  version: string | null;
}

export function parsePorts(json: string): StoredPort[] {
  return JSON.parse(json) as StoredPort[];
}
