// SQL of the Docker domain: which IPAM subnets and addresses were recorded for which endpoint.
// The IPAM rows themselves are written through IpamService (rules, audit).
import type { Db } from '../store/db.js';
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

export class DockerStore {
  private readonly s;

  constructor(readonly db: Db) {
    const addressColumns = `a.id, a.address, a.source, a.state, a.hostname, a.mac, a.description, d.endpoint, d.container_id, d.network`;
    this.s = {
      subnets: db.prepare(`SELECT s.id, s.cidr, d.endpoint, d.network, d.network_id FROM subnets s
        LEFT JOIN docker_subnets d ON d.subnet_id = s.id`),
      linkSubnet: db.prepare(`INSERT INTO docker_subnets (subnet_id, endpoint, network, network_id) VALUES (?, ?, ?, ?)
        ON CONFLICT (subnet_id) DO UPDATE SET endpoint = excluded.endpoint, network = excluded.network, network_id = excluded.network_id`),
      ownedAddresses:
        db.prepare(`SELECT ${addressColumns} FROM docker_addresses d JOIN addresses a ON a.id = d.address_id
        WHERE d.endpoint = ?`),
      addressAt:
        db.prepare(`SELECT ${addressColumns} FROM addresses a LEFT JOIN docker_addresses d ON d.address_id = a.id
        WHERE a.ip_key = ?`),
      linkAddress:
        db.prepare(`INSERT INTO docker_addresses (address_id, endpoint, container_id, network) VALUES (?, ?, ?, ?)
        ON CONFLICT (address_id) DO UPDATE SET endpoint = excluded.endpoint, container_id = excluded.container_id, network = excluded.network`),
      unlinkAddress: db.prepare('DELETE FROM docker_addresses WHERE address_id = ?'),
    };
  }

  /** Every IPAM subnet with the Docker network it was created for, if any. */
  subnets(): SubnetRef[] {
    return (
      this.s.subnets.all() as {
        id: number;
        cidr: string;
        endpoint: string | null;
        network: string | null;
        network_id: string | null;
      }[]
    ).map((r) => ({
      id: r.id,
      cidr: r.cidr,
      docker: r.endpoint === null ? null : { endpoint: r.endpoint, network: r.network!, network_id: r.network_id! },
    }));
  }

  linkSubnet(subnetId: number, endpoint: string, network: string, networkId: string): void {
    this.s.linkSubnet.run(subnetId, endpoint, network, networkId);
  }

  ownedAddresses(endpoint: string): AddressRef[] {
    return (this.s.ownedAddresses.all(endpoint) as LinkedAddressRow[]).map(toRef);
  }

  addressAt(key: Buffer): AddressRef | undefined {
    const row = this.s.addressAt.get(key) as LinkedAddressRow | undefined;
    return row && toRef(row);
  }

  linkAddress(addressId: number, endpoint: string, link: AddressLink): void {
    this.s.linkAddress.run(addressId, endpoint, link.container_id, link.network);
  }

  unlinkAddress(addressId: number): void {
    this.s.unlinkAddress.run(addressId);
  }
}
