// Proxmox metrics, rebuilt at every scrape from the last inventory (snapshot gauges: nothing
// to go stale when a guest disappears). Series are bounded by the cluster's nodes and guests.
import type { Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import { JOB_STATES } from './core/jobs.js';
import type { ProxmoxService } from './service.js';

export function registerProxmoxMetrics(registry: Registry, proxmox: ProxmoxService): void {
  const gauge = snapshotGroup(registry, refresh);
  const up = gauge('lanscape_proxmox_up', 'Whether the last inventory reached the Proxmox VE API (1) or not (0).');
  const lastSuccess = gauge(
    'lanscape_proxmox_last_success_timestamp_seconds',
    'When the last successful inventory finished.',
  );
  const duration = gauge('lanscape_proxmox_inventory_duration_seconds', 'Duration of the last successful inventory.');
  const nodeInfo = gauge('lanscape_proxmox_node_info', 'Proxmox VE cluster nodes; the value is always 1.');
  const nodeUp = gauge('lanscape_proxmox_node_up', 'Whether the node is online (1) or not (0).');
  const nodeCpu = gauge('lanscape_proxmox_node_cpu_usage_ratio', 'CPU usage of the node, 0–1.');
  const nodeCpus = gauge('lanscape_proxmox_node_cpus', 'CPUs of the node.');
  const nodeMem = gauge('lanscape_proxmox_node_memory_used_bytes', 'Memory used on the node.');
  const nodeMemTotal = gauge('lanscape_proxmox_node_memory_total_bytes', 'Memory of the node.');
  const nodeUptime = gauge('lanscape_proxmox_node_uptime_seconds', 'Uptime of the node.');
  const guestInfo = gauge(
    'lanscape_proxmox_guest_info',
    'VMs (qemu) and containers (lxc) with name, template flag and tags; the value is always 1.',
  );
  const guestUp = gauge('lanscape_proxmox_guest_up', 'Whether the guest is running (1) or not (0).');
  const guestCpu = gauge('lanscape_proxmox_guest_cpu_usage_ratio', 'CPU usage of the guest relative to its CPUs, 0–1.');
  const guestCpus = gauge('lanscape_proxmox_guest_cpus', 'CPUs of the guest.');
  const guestMem = gauge('lanscape_proxmox_guest_memory_used_bytes', 'Memory used by the guest.');
  const guestMemTotal = gauge('lanscape_proxmox_guest_memory_total_bytes', 'Memory of the guest.');
  const guestDisk = gauge('lanscape_proxmox_guest_disk_total_bytes', "Size of the guest's root disk.");
  const guestUptime = gauge('lanscape_proxmox_guest_uptime_seconds', 'Uptime of the guest.');
  const guestAddress = gauge(
    'lanscape_proxmox_guest_address_info',
    'Addresses a running guest reports (guest agent or container interfaces); the value is always 1.',
  );
  const jobs = gauge('lanscape_proxmox_vm_jobs', 'VM creation jobs in the store by state.');

  async function refresh() {
    const state = proxmox.up;
    up.set({}, state === true ? 1 : 0);
    const counts = await proxmox.vms.counts();
    for (const s of JOB_STATES) jobs.set({ state: s }, counts[s] ?? 0);
    const inv = proxmox.inventory;
    if (!inv) return;
    lastSuccess.set({}, inv.finishedAt / 1000);
    duration.set({}, (inv.finishedAt - inv.startedAt) / 1000);
    const opt = (g: typeof nodeCpu, labels: Record<string, string>, v: number | null) => {
      if (v !== null) g.set(labels, v);
    };
    for (const n of inv.nodes) {
      const labels = { node: n.node };
      nodeInfo.set({ node: n.node, id: n.id, level: n.level }, 1);
      nodeUp.set(labels, n.online ? 1 : 0);
      opt(nodeCpu, labels, n.cpu);
      opt(nodeCpus, labels, n.cpus);
      opt(nodeMem, labels, n.mem);
      opt(nodeMemTotal, labels, n.maxmem);
      opt(nodeUptime, labels, n.uptime);
    }
    for (const g of inv.guests) {
      const labels = { node: g.node, vmid: String(g.vmid), type: g.type };
      // No status label: it would start a new series at every start/stop; guest_up has it.
      guestInfo.set({ ...labels, name: g.name, template: g.template ? '1' : '0', tags: g.tags.join(';') }, 1);
      guestUp.set(labels, g.running ? 1 : 0);
      opt(guestCpu, labels, g.cpu);
      opt(guestCpus, labels, g.cpus);
      opt(guestMem, labels, g.mem);
      opt(guestMemTotal, labels, g.maxmem);
      opt(guestDisk, labels, g.maxdisk);
      opt(guestUptime, labels, g.uptime);
      for (const a of g.addresses ?? []) guestAddress.set({ ...labels, address: a.address, interface: a.interface }, 1);
    }
  }
}
