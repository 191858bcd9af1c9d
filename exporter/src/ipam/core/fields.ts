// Rules for the free-form fields of IPAM objects, shared by the API schemas and CSV import.
export const ADDRESS_STATES = ['reserved', 'assigned', 'dhcp', 'deprecated', 'provisioning'] as const;
export type AddressState = (typeof ADDRESS_STATES)[number];

export const ADDRESS_SOURCES = ['manual', 'discovered', 'docker', 'proxmox'] as const;
export type AddressSource = (typeof ADDRESS_SOURCES)[number];

export const RANGE_PURPOSES = ['dhcp', 'static', 'reserved', 'infrastructure', 'services', 'other'] as const;

/** RFC 1123 host name or FQDN, at most 253 characters, labels of 1–63. */
export const HOSTNAME_RE =
  /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** A tag: starts with a letter or digit; letters, digits, space and _ . : / - after that. */
export const TAG_RE = /^[\p{L}\p{N}][\p{L}\p{N} _.:/-]{0,63}$/u;

export const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

const MAC_RE =
  /^(?:[0-9a-fA-F]{2}([:-]))(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$|^[0-9a-fA-F]{12}$/;

/** Accepts aa:bb:.., aa-bb-.., aabb.ccdd.eeff and bare hex; returns lower-case colon form. */
export function normalizeMac(text: string): string | null {
  if (!MAC_RE.test(text)) return null;
  const hex = text.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  return hex.match(/../g)!.join(':');
}
