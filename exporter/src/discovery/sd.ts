// Prometheus http_sd: alive hosts with a port open, one target group each, with the labels
// __meta_lanscape_address|subnet|hostname|tags for relabelling.
import { GLOBAL_VRF_ID } from '../ipam/core/vrf.js';
import { parseIp } from '../ipam/core/ip.js';
import type { IpamService } from '../ipam/service.js';
import { parsePorts } from './core/ports.js';
import type { SdGroup } from './schemas.js';
import type { DiscoveryStore } from './store.js';

export type { SdGroup } from './schemas.js';

/**
 * One keyset page: the groups among the next `hosts` alive hosts after the key `after`, and the
 * key to continue from (undefined when there are no more hosts). Only addresses carrying `tag`
 * when one is given.
 */
export async function serviceDiscoveryPage(
  store: DiscoveryStore,
  ipam: IpamService,
  port: number,
  tag: string | undefined,
  after: Buffer | undefined,
  hosts: number,
): Promise<{ groups: SdGroup[]; last: Buffer | undefined }> {
  const rows = await store.sdHosts(after ?? Buffer.alloc(0), hosts);
  const index = await ipam.subnetIndex();
  const cidrs = await ipam.subnetCidrs();
  const groups: SdGroup[] = [];
  for (const r of rows) {
    if (!parsePorts(r.ports).some((p) => p.port === port)) continue;
    const tags = r.tags ? (JSON.parse(r.tags) as string[]) : [];
    if (tag && !tags.includes(tag)) continue;
    const ip = parseIp(r.address);
    const subnetId = index.mostSpecific(GLOBAL_VRF_ID, ip); // hosts are the global VRF's
    const host = ip.family === 6 ? `[${r.address}]` : r.address;
    groups.push({
      targets: [`${host}:${port}`],
      labels: {
        __meta_lanscape_address: r.address,
        __meta_lanscape_subnet: subnetId ? (cidrs.get(subnetId) ?? '') : '',
        __meta_lanscape_hostname: r.hostname ?? r.ptr ?? '',
        __meta_lanscape_tags: tags.length ? `,${tags.join(',')},` : '',
      },
    });
  }
  return { groups, last: rows.length < hosts ? undefined : rows[rows.length - 1]!.host_key };
}

/** Every group, read a page of 10,000 hosts at a time. */
export async function serviceDiscovery(
  store: DiscoveryStore,
  ipam: IpamService,
  port: number,
  tag?: string,
): Promise<SdGroup[]> {
  const out: SdGroup[] = [];
  for (let after: Buffer | undefined; ;) {
    const page = await serviceDiscoveryPage(store, ipam, port, tag, after, 10_000);
    out.push(...page.groups);
    if (page.last === undefined) return out;
    after = page.last;
  }
}
