// What to change in IPAM so it matches one Docker endpoint: pure functions from Docker's
// objects and the IPAM rows they concern to a plan; service.ts applies the plan in one
// transaction. Rules: Docker networks with an IPAM pool become subnets named
// docker:<endpoint>/<network> in the endpoint's own VRF (docker:<endpoint>, #15); container
// addresses become rows with source docker there; a row a person owns (any other source) is
// never changed; rows of another endpoint are left alone.
import { HOSTNAME_RE, normalizeMac } from '../../ipam/core/fields.js';
import { covers, parsePrefix } from '../../ipam/core/prefix.js';
import type { Container, Network } from './model.js';

/** An IPAM subnet, with the Docker network it was created for (null: a person's subnet). */
export interface SubnetRef {
  id: number;
  cidr: string;
  /** The subnet's VRF by name. */
  vrf: string;
  docker: { endpoint: string; network: string; network_id: string } | null;
}

export interface SubnetCreatePlan {
  cidr: string;
  name: string;
  gateway: string | null;
  description: string;
  network: string;
  network_id: string;
}

export interface SubnetPlan {
  create: SubnetCreatePlan[];
  /** Our subnet whose network was recreated or renamed with the same pool: keep it, follow the network. */
  relink: { id: number; network: string; network_id: string }[];
  /** Our subnets whose network is gone. */
  remove: { id: number; cidr: string }[];
}

export const subnetName = (endpoint: string, network: string) => `docker:${endpoint}/${network}`.slice(0, 128);

export function planSubnets(endpoint: string, networks: readonly Network[], subnets: readonly SubnetRef[]): SubnetPlan {
  const byCidr = new Map(subnets.map((s) => [s.cidr, s]));
  const plan: SubnetPlan = { create: [], relink: [], remove: [] };
  const wanted = new Set<string>();
  for (const n of [...networks].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const pool of n.subnets) {
      if (wanted.has(pool.cidr)) continue; // one engine does not reuse a pool; be safe anyway
      wanted.add(pool.cidr);
      const existing = byCidr.get(pool.cidr);
      if (!existing) {
        plan.create.push({
          cidr: pool.cidr,
          name: subnetName(endpoint, n.name),
          gateway: pool.gateway,
          network: n.name,
          network_id: n.id,
          description:
            `Docker network ${n.name} (${n.driver}${n.internal ? ', internal' : ''}) on ${endpoint}` +
            (pool.ip_range ? `; containers get addresses from ${pool.ip_range}` : ''),
        });
      } else if (
        existing.docker?.endpoint === endpoint &&
        (existing.docker.network !== n.name || existing.docker.network_id !== n.id)
      ) {
        plan.relink.push({ id: existing.id, network: n.name, network_id: n.id });
      }
      // A person's subnet with this pool in the endpoint's VRF is kept as theirs; `subnets` are
      // the endpoint VRF's only, so the same pool on another endpoint is another VRF's subnet.
    }
  }
  for (const s of subnets) {
    if (s.docker?.endpoint === endpoint && !wanted.has(s.cidr)) plan.remove.push({ id: s.id, cidr: s.cidr });
  }
  return plan;
}

export interface AddressLink {
  container_id: string;
  network: string;
}

/** An IPAM address row as the plan needs it, with the Docker container it was recorded for. */
export interface AddressRef {
  id: number;
  address: string;
  source: string;
  state: string;
  hostname: string | null;
  mac: string | null;
  description: string;
  docker: ({ endpoint: string } & AddressLink) | null;
}

export interface AddressFieldsPlan {
  state: 'assigned';
  hostname: string | null;
  mac: string | null;
  description: string;
}

export interface AddressPlan {
  create: { address: string; fields: AddressFieldsPlan; link: AddressLink }[];
  update: { id: number; address: string; fields: AddressFieldsPlan; link: AddressLink }[];
  /** Our rows no container holds any more (still source docker). */
  remove: { id: number; address: string }[];
  /** Our rows a person took over (changed the source): forget them, keep the row. */
  unlink: { id: number; address: string }[];
  skipped: { address: string; container: string; reason: 'taken' | 'no_subnet' }[];
}

export interface AddressInput {
  endpoint: string;
  containers: readonly Container[];
  /** Rows recorded for this endpoint (whatever their source now). */
  owned: readonly AddressRef[];
  /** The row at an address, if any. */
  lookup: (address: string) => AddressRef | undefined;
  /** Whether some IPAM subnet contains the address (IPAM refuses a row outside every subnet). */
  covered: (address: string) => boolean;
}

/** Container names allow _ and more; host names do not. Null when nothing usable is left. */
export function hostnameFor(name: string): string | null {
  const labels = name
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .split('.')
    .map((l) => l.replace(/^-+/, '').slice(0, 63).replace(/-+$/, ''))
    .filter(Boolean);
  const host = labels
    .join('.')
    .slice(0, 253)
    .replace(/[.-]+$/, '');
  return HOSTNAME_RE.test(host) ? host : null;
}

const family = (address: string) => (address.includes(':') ? 6 : 4);

/**
 * Who holds which address. A container's current address beats an address fixed in a stopped
 * container's config, which beats the address we last recorded for a stopped container (Docker
 * may hand a dynamic one to someone else meanwhile); ties go by container name. An address stays
 * `assigned` while its container exists, running or not, and keeps its MAC while Docker shows
 * none (stopped): a crash-looping container does not rewrite its row (and the audit log) at
 * every restart.
 */
export function planAddresses(input: AddressInput): AddressPlan {
  const { endpoint } = input;
  const previous = new Map<string, AddressRef>();
  for (const r of input.owned) {
    if (r.source === 'docker' && r.docker)
      previous.set(`${r.docker.container_id}|${r.docker.network}|${family(r.address)}`, r);
  }
  const claims: { address: string; strength: number; c: Container; network: string; mac: string | null }[] = [];
  for (const c of input.containers) {
    for (const n of c.networks) {
      for (const [live, fixed, fam] of [
        [n.ipv4, n.static_ipv4, 4],
        [n.ipv6, n.static_ipv6, 6],
      ] as const) {
        const prev = previous.get(`${c.id}|${n.network}|${fam}`)?.address ?? null;
        const address = live ?? fixed ?? prev;
        if (!address) continue;
        claims.push({ address, strength: live ? 2 : fixed ? 1 : 0, c, network: n.network, mac: n.mac });
      }
    }
  }
  claims.sort(
    (a, b) => b.strength - a.strength || a.c.name.localeCompare(b.c.name) || a.network.localeCompare(b.network),
  );
  const plan: AddressPlan = { create: [], update: [], remove: [], unlink: [], skipped: [] };
  const taken = new Set<string>();
  const kept = new Set<number>();
  for (const claim of claims) {
    if (taken.has(claim.address)) continue;
    taken.add(claim.address);
    const row = input.lookup(claim.address);
    const fields: AddressFieldsPlan = {
      state: 'assigned',
      hostname: hostnameFor(claim.c.name),
      mac: (claim.mac && normalizeMac(claim.mac)) ?? row?.mac ?? null,
      description: `Docker container ${claim.c.name} (${claim.c.image}) on ${endpoint}, network ${claim.network}`.slice(
        0,
        2000,
      ),
    };
    const link: AddressLink = { container_id: claim.c.id, network: claim.network };
    if (!row) {
      if (input.covered(claim.address)) plan.create.push({ address: claim.address, fields, link });
      else plan.skipped.push({ address: claim.address, container: claim.c.name, reason: 'no_subnet' });
      continue;
    }
    const ours = row.source === 'docker' && (row.docker === null || row.docker.endpoint === endpoint);
    if (!ours) {
      plan.skipped.push({ address: claim.address, container: claim.c.name, reason: 'taken' });
      continue;
    }
    kept.add(row.id);
    const same =
      row.state === fields.state &&
      row.hostname === fields.hostname &&
      row.mac === fields.mac &&
      row.description === fields.description &&
      row.docker?.container_id === link.container_id &&
      row.docker?.network === link.network;
    if (!same) plan.update.push({ id: row.id, address: row.address, fields, link });
  }
  for (const r of input.owned) {
    if (kept.has(r.id)) continue;
    if (r.source === 'docker') plan.remove.push({ id: r.id, address: r.address });
    else plan.unlink.push({ id: r.id, address: r.address });
  }
  return plan;
}

export interface Overlap {
  endpoint: string;
  network: string;
  cidr: string;
  subnet_id: number;
  subnet: string;
  /** same: the pool is the managed subnet; inside: the pool lies in it; contains: the pool covers it. */
  relation: 'same' | 'inside' | 'contains';
}

/** Docker pools that overlap subnets a person manages (not created for a Docker network). */
export function networkOverlaps(
  pools: readonly { endpoint: string; network: string; cidr: string }[],
  managed: readonly { id: number; cidr: string }[],
): Overlap[] {
  const parsed = managed.map((m) => ({ ...m, prefix: parsePrefix(m.cidr) }));
  const out: Overlap[] = [];
  for (const p of pools) {
    const pool = parsePrefix(p.cidr);
    for (const m of parsed) {
      const inside = covers(m.prefix, pool);
      const outside = covers(pool, m.prefix);
      if (!inside && !outside) continue;
      out.push({
        ...p,
        subnet_id: m.id,
        subnet: m.cidr,
        relation: inside && outside ? 'same' : inside ? 'inside' : 'contains',
      });
    }
  }
  return out.sort(
    (a, b) =>
      a.endpoint.localeCompare(b.endpoint) ||
      a.network.localeCompare(b.network) ||
      a.cidr.localeCompare(b.cidr) ||
      a.subnet_id - b.subnet_id,
  );
}
