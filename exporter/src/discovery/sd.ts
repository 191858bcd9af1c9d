// Prometheus http_sd: alive hosts with a port open, one target group each, with the labels
// __meta_lanscape_address|subnet|vrf|hostname|tags for relabelling. The same address observed in
// two VRFs is two groups; relabelling __meta_lanscape_vrf to `vrf` (as provisioning does) keeps
// them two targets, with the `vrf` label Lanscape's own series carry.
import { parseIp } from '../ipam/core/ip.js';
import type { IpamService } from '../ipam/service.js';
import { parsePorts } from './core/ports.js';
import type { SdGroup } from './schemas.js';
import type { DiscoveryStore, HostRef } from './store.js';

export type { SdGroup } from './schemas.js';

/**
 * One keyset page: the groups among the next `hosts` alive hosts after (VRF, key) `after`, and
 * where to continue from (undefined when there are no more hosts). Only addresses carrying `tag`
 * when one is given.
 */
export async function serviceDiscoveryPage(
  store: DiscoveryStore,
  ipam: IpamService,
  port: number,
  tag: string | undefined,
  after: HostRef | undefined,
  hosts: number,
): Promise<{ groups: SdGroup[]; last: HostRef | undefined }> {
  const rows = await store.sdHosts(after, hosts);
  const index = await ipam.subnetIndex();
  const cidrs = await ipam.subnetCidrs();
  const vrfNames = new Map((await ipam.allVrfs()).map((v) => [v.id, v.name]));
  const groups: SdGroup[] = [];
  for (const r of rows) {
    if (!parsePorts(r.ports).some((p) => p.port === port)) continue;
    const tags = r.tags ? (JSON.parse(r.tags) as string[]) : [];
    if (tag && !tags.includes(tag)) continue;
    const ip = parseIp(r.address);
    const subnetId = index.mostSpecific(r.vrf_id, ip);
    const host = ip.family === 6 ? `[${r.address}]` : r.address;
    const vrf = vrfNames.get(r.vrf_id) ?? String(r.vrf_id);
    groups.push({
      targets: [`${host}:${port}`],
      labels: {
        __meta_lanscape_address: r.address,
        __meta_lanscape_subnet: subnetId ? (cidrs.get(subnetId) ?? '') : '',
        __meta_lanscape_vrf: vrf,
        __meta_lanscape_hostname: r.hostname ?? r.ptr ?? '',
        __meta_lanscape_tags: tags.length ? `,${tags.join(',')},` : '',
      },
    });
  }
  const end = rows[rows.length - 1];
  return { groups, last: rows.length < hosts || !end ? undefined : { vrf: end.vrf_id, key: end.host_key } };
}

/** Every group, read a page of 10,000 hosts at a time. */
export async function serviceDiscovery(
  store: DiscoveryStore,
  ipam: IpamService,
  port: number,
  tag?: string,
): Promise<SdGroup[]> {
  const out: SdGroup[] = [];
  for (let after: HostRef | undefined; ;) {
    const page = await serviceDiscoveryPage(store, ipam, port, tag, after, 10_000);
    out.push(...page.groups);
    if (page.last === undefined) return out;
    after = page.last;
  }
}
