// SQL of the Docker domain: which IPAM subnets and addresses were recorded for which endpoint.
// The IPAM rows themselves are written through IpamService (rules, audit). One SQL text per
// statement on SQLite and PostgreSQL; inside a `store.write` the statements join its transaction.
import type { Store } from '../store/store.js';
import type { AddressLink, AddressRef, SubnetRef } from './core/reconcile.js';

interface LinkedAddressRow {
  id: number;
  address: string;
  source: string;
  state: string;
  hostname: string | null;
  mac: string | null;
  description: string;
  endpoint: string | null;
  container_id: string | null;
  network: string | null;
}

const toRef = (r: LinkedAddressRow): AddressRef => ({
  id: r.id,
  address: r.address,
  source: r.source,
  state: r.state,
  hostname: r.hostname,
  mac: r.mac,
  description: r.description,
  docker: r.endpoint === null ? null : { endpoint: r.endpoint, container_id: r.container_id!, network: r.network! },
});

const ADDRESS_COLUMNS = `a.id, a.address, a.source, a.state, a.hostname, a.mac, a.description, d.endpoint, d.container_id, d.network`;

/** Addresses looked up per statement (bound parameters). */
const LOOKUP_CHUNK = 500;

export class DockerStore {
  constructor(private readonly store: Store) {}

  /** Every IPAM subnet (of one VRF, when given) with its VRF's name and the Docker network it was created for, if any. */
  async subnets(vrf?: number): Promise<SubnetRef[]> {
    const rows = await this.store.exec.all<{
      id: number;
      cidr: string;
      vrf: string;
      endpoint: string | null;
      network: string | null;
      network_id: string | null;
    }>(
      `SELECT s.id, s.cidr, v.name AS vrf, d.endpoint, d.network, d.network_id FROM subnets s
        JOIN vrfs v ON v.id = s.vrf_id LEFT JOIN docker_subnets d ON d.subnet_id = s.id
        ${vrf === undefined ? '' : 'WHERE s.vrf_id = ?'} ORDER BY s.id`,
      vrf === undefined ? [] : [vrf],
    );
    return rows.map((r) => ({
      id: r.id,
      cidr: r.cidr,
      vrf: r.vrf,
      docker: r.endpoint === null ? null : { endpoint: r.endpoint, network: r.network!, network_id: r.network_id! },
    }));
  }

  async linkSubnet(subnetId: number, endpoint: string, network: string, networkId: string): Promise<void> {
    await this.store.exec.run(
      `INSERT INTO docker_subnets (subnet_id, endpoint, network, network_id) VALUES (?, ?, ?, ?)
        ON CONFLICT (subnet_id) DO UPDATE SET endpoint = excluded.endpoint, network = excluded.network, network_id = excluded.network_id`,
      [subnetId, endpoint, network, networkId],
    );
  }

  async ownedAddresses(endpoint: string): Promise<AddressRef[]> {
    const rows = await this.store.exec.all<LinkedAddressRow>(
      `SELECT ${ADDRESS_COLUMNS} FROM docker_addresses d JOIN addresses a ON a.id = d.address_id
        WHERE d.endpoint = ? ORDER BY a.id`,
      [endpoint],
    );
    return rows.map(toRef);
  }

  /** The rows at these addresses of a VRF (keys from ipKey), by key in hex; a few statements for any number. */
  async addressesAt(vrf: number, keys: readonly Buffer[]): Promise<Map<string, AddressRef>> {
    const out = new Map<string, AddressRef>();
    for (let i = 0; i < keys.length; i += LOOKUP_CHUNK) {
      const chunk = keys.slice(i, i + LOOKUP_CHUNK);
      const rows = await this.store.exec.all<LinkedAddressRow & { ip_key: Buffer }>(
        `SELECT a.ip_key, ${ADDRESS_COLUMNS} FROM addresses a LEFT JOIN docker_addresses d ON d.address_id = a.id
          WHERE a.vrf_id = ? AND a.ip_key IN (${chunk.map(() => '?').join(', ')})`,
        [vrf, ...chunk],
      );
      for (const r of rows) out.set(Buffer.from(r.ip_key).toString('hex'), toRef(r));
    }
    return out;
  }

  async linkAddress(addressId: number, endpoint: string, link: AddressLink): Promise<void> {
    await this.store.exec.run(
      `INSERT INTO docker_addresses (address_id, endpoint, container_id, network) VALUES (?, ?, ?, ?)
        ON CONFLICT (address_id) DO UPDATE SET endpoint = excluded.endpoint, container_id = excluded.container_id, network = excluded.network`,
      [addressId, endpoint, link.container_id, link.network],
    );
  }

  async unlinkAddress(addressId: number): Promise<void> {
    await this.store.exec.run('DELETE FROM docker_addresses WHERE address_id = ?', [addressId]);
  }
}
