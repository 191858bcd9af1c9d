// Vendor names from the IEEE OUI registry (the oui-data package), loaded on first use.
import { createRequire } from 'node:module';

let registry: Record<string, string> | undefined;

export function vendorOf(mac: string | null | undefined): string | null {
  if (!mac) return null;
  const hex = mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (hex.length !== 12) return null;
  // Locally administered (e.g. randomised or virtual) addresses have no registered vendor.
  if ((Number.parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return null;
  registry ??= createRequire(import.meta.url)('oui-data') as Record<string, string>;
  const entry = registry[hex.slice(0, 6)];
  return entry ? entry.split('\n')[0]!.trim() : null;
}
