// The parameter values PVE takes for cloud-init and the network device. Each is a string
// PVE parses again, so every piece is validated before it is joined (no commas, equals
// signs or newlines from the caller can reach the joined string).
import { type IP, formatIp } from '../../ipam/core/ip.js';
import { BRIDGE_RE, SSH_KEY_RE } from './formats.js';

/**
 * PVE's `urlencoded` format (PVE::JSONSchema::pve_verify_urlencoded) allows only
 * `[-%a-zA-Z0-9_.!~*'()]`: the unreserved set of encodeURIComponent. So a space must be %20,
 * never '+', and '+', '=', '@', '/' are percent-encoded too.
 */
export function pveUrlEncode(text: string): string {
  return encodeURIComponent(text);
}

/** The `sshkeys` value: validated keys, one per line, percent-encoded. */
export function encodeSshKeys(keys: readonly string[]): string {
  for (const k of keys) {
    if (!SSH_KEY_RE.test(k)) throw new Error('not an OpenSSH public key on one line');
  }
  return pveUrlEncode(keys.join('\n'));
}

/** Inverse of encodeSshKeys (tests, and the fake PVE server). */
export function decodeSshKeys(value: string): string[] {
  return decodeURIComponent(value).split('\n').filter(Boolean);
}

/** `ipconfig0`: `ip=<addr>/<len>,gw=<gw>` (IPv4) or `ip6=…,gw6=…` (IPv6). */
export function ipConfig(address: IP, prefixLength: number, gateway: IP | null): string {
  const v6 = address.family === 6;
  const parts = [`${v6 ? 'ip6' : 'ip'}=${formatIp(address)}/${prefixLength}`];
  if (gateway) {
    if (gateway.family !== address.family) throw new Error('the gateway and the address are of different IP families');
    parts.push(`${v6 ? 'gw6' : 'gw'}=${formatIp(gateway)}`);
  }
  return parts.join(',');
}

/** `nameserver`: PVE's address-list, separated by spaces. */
export function nameservers(list: readonly IP[]): string {
  return list.map(formatIp).join(' ');
}

/** `net0`: a virtio NIC on a bridge, optionally VLAN-tagged (PVE generates the MAC). */
export function netDevice(bridge: string, vlan?: number | null): string {
  if (!BRIDGE_RE.test(bridge)) throw new Error(`bridge ${JSON.stringify(bridge)} is not a valid interface name`);
  if (vlan !== undefined && vlan !== null && (!Number.isInteger(vlan) || vlan < 1 || vlan > 4094)) {
    throw new Error('the VLAN tag is 1–4094');
  }
  return `virtio,bridge=${bridge}${vlan ? `,tag=${vlan}` : ''}`;
}
