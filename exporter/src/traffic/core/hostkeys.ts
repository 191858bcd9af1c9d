// Host key checks, as OpenSSH does them: SHA256 fingerprints (base64 without padding),
// known_hosts files (plain and hashed |1| names, [host]:port, wildcards, negation, @revoked),
// and the decision for one presented key: pinned, known_hosts, or trust on first use.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** SHA256:<base64 without padding>, the way `ssh-keygen -l` and `ssh` print it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export { SSH_FINGERPRINT_RE as FINGERPRINT_RE } from '../../shared/formats.js';

/** A configured fingerprint in the form fingerprint() prints (a trailing '=' is accepted). */
export function normalizeFingerprint(text: string): string {
  return text.replace(/=+$/, '');
}

/** The key type a public key blob starts with (uint32 length, then the name). */
export function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len < 1 || len > 64 || 4 + len > keyBlob.length) return 'unknown';
  const name = keyBlob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(name) ? name : 'unknown';
}

export interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | null;
  patterns: string[];
  keyType: string;
  key: Buffer;
  line: number;
}

/** Parses a known_hosts file; lines it cannot read are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (words[0] === '@revoked' || words[0] === '@cert-authority') {
      marker = words[0] === '@revoked' ? 'revoked' : 'cert-authority';
      words.shift();
    } else if (words[0]?.startsWith('@')) {
      continue;
    }
    const [hosts, type, b64] = words;
    if (!hosts || !type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    if (keyType(key) !== type) continue;
    out.push({ marker, patterns: hosts.split(','), keyType: type, key, line: i + 1 });
  }
  return out;
}

/** The name known_hosts uses for a host: "host" on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    'i',
  );
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(pattern);
  if (!m) return false;
  const want = Buffer.from(m[2]!, 'base64');
  const got = createHmac('sha1', Buffer.from(m[1]!, 'base64')).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether an entry's host patterns cover `name` (a negated match excludes it). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const p of entry.patterns) {
    if (p.startsWith('|1|')) {
      if (hashedMatch(p, name)) matched = true;
    } else if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The plain (non-CA) entries for a host, revoked ones included. */
export function knownKeysFor(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, name));
}

export type HostKeyPolicy =
  | { kind: 'pinned'; fingerprint: string }
  | { kind: 'known_hosts'; file: string; entries: readonly KnownHostEntry[] }
  | { kind: 'tofu'; stored: string | null };

export type HostKeyDecision =
  | { ok: true; fingerprint: string; keyType: string; trustNow: boolean }
  | { ok: false; fingerprint: string; keyType: string; message: string };

/**
 * Accepts or refuses a presented host key. `who` names the host in messages ("nas
 * (10.200.0.11:22)"); the message always shows the presented fingerprint so a person can
 * compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host.
 */
export function decideHostKey(
  policy: HostKeyPolicy,
  key: Buffer,
  who: string,
  host: string,
  port: number,
): HostKeyDecision {
  const fp = fingerprint(key);
  const type = keyType(key);
  const presented = `presented ${type} key ${fp}`;
  const refuse = (why: string): HostKeyDecision => ({
    ok: false,
    fingerprint: fp,
    keyType: type,
    message: `host key of ${who} refused: ${why}; ${presented}`,
  });
  switch (policy.kind) {
    case 'pinned':
      return fp === normalizeFingerprint(policy.fingerprint)
        ? { ok: true, fingerprint: fp, keyType: type, trustNow: false }
        : refuse(`it does not match the pinned ${normalizeFingerprint(policy.fingerprint)}`);
    case 'known_hosts': {
      const entries = knownKeysFor(policy.entries, host, port);
      if (entries.some((e) => e.marker === 'revoked' && e.key.equals(key)))
        return refuse(`it is marked @revoked in ${policy.file}`);
      if (entries.some((e) => e.marker === null && e.key.equals(key)))
        return { ok: true, fingerprint: fp, keyType: type, trustNow: false };
      const name = knownHostsName(host, port);
      return refuse(
        entries.some((e) => e.marker === null)
          ? `${policy.file} holds a different key for ${name} (the host key changed, or someone is in the middle)`
          : `${policy.file} has no key for ${name}`,
      );
    }
    case 'tofu':
      if (policy.stored === null) return { ok: true, fingerprint: fp, keyType: type, trustNow: true };
      return fp === policy.stored
        ? { ok: true, fingerprint: fp, keyType: type, trustNow: false }
        : refuse(
            `it differs from the key trusted on first use (${policy.stored}); if the host was reinstalled, pin the new key in the configuration`,
          );
  }
}

/** ssh2's host key algorithms in its default order of preference. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * The host key algorithms to offer, those of the key types known_hosts holds first, so a
 * server with several host keys presents the one we know (what OpenSSH does too).
 */
export function hostKeyAlgorithmsFor(types: readonly string[]): string[] {
  const first: string[] = [];
  for (const t of types) {
    for (const n of t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]) {
      if (HOST_KEY_ALGORITHMS.includes(n) && !first.includes(n)) first.push(n);
    }
  }
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}
