// Names and identifiers as Proxmox VE accepts them, and the settings that connect to it. The
// API checks input with these before anything reaches PVE, so a bad name is a 400 from us
// instead of a half-done job.

/** A VM name we hand out: one lower-case DNS label (PVE's dns-name allows more; a label is also the guest's host name). */
export const VM_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** pve-node: a host name label. */
export const NODE_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
/** pve-storage-id. */
export const STORAGE_RE = /^[a-z][a-z0-9\-_.]{0,98}[a-z0-9]$/;
/** pve-bridge-id: Linux interface names are at most 15 characters. */
export const BRIDGE_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
/** A cloud-init user name (POSIX portable, as useradd accepts by default). */
export const CI_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
export const VMID_MIN = 100;
export const VMID_MAX = 999_999_999;

/** `user@realm!tokenid` and the SHA-256 fingerprint (AA:BB:…) as PVE shows them: in shared/formats.ts (the config schema checks them too). */
export { PVE_FINGERPRINT_RE as FINGERPRINT_RE, PVE_TOKEN_ID_RE as TOKEN_ID_RE } from '../../shared/formats.js';

export function normalizeFingerprint(text: string): string {
  return text.trim().toUpperCase();
}

/**
 * One OpenSSH public key on one line: type, base64 blob, optional comment. The comment may
 * not hold control characters, so a key can never smuggle a second line (another key or a
 * cloud-init directive) into the list.
 */
export const SSH_KEY_RE = new RegExp(
  '^(?:ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com)' +
    ' [A-Za-z0-9+/]{16,16384}={0,3}(?: [\\x20-\\x7e]{1,256})?$',
);

/** A task id: UPID:node:pid:pstart:starttime:type:id:user: (pid and times in hex). */
const UPID_RE =
  /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,16}):([0-9A-Fa-f]{8}):([a-zA-Z0-9_-]{1,64}):([^:\s]{0,128}):([^:\s]{1,200}):$/;

export interface Upid {
  node: string;
  type: string;
  id: string;
  user: string;
}

/** Parses a task id; undefined when PVE answered something that is not one. */
export function parseUpid(text: unknown): Upid | undefined {
  if (typeof text !== 'string') return undefined;
  const m = UPID_RE.exec(text);
  return m ? { node: m[1]!, type: m[5]!, id: m[6]!, user: m[7]! } : undefined;
}
