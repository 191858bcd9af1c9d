// Vendor names from the IEEE OUI registry (the oui-data package). The package is one 5.6 MB JSON
// object of 53,730 entries whose values are whole registry entries (name, street, city,
// country); require()-ing it kept 10.6 MB of objects and strings alive for good, raised the
// exporter's RSS by ~20 MB and held the event loop ~100 ms while parsing. Only a vendor's name
// (an entry's first line) of the 24-bit prefixes (MA-L) is needed, so the file is scanned into
// one sorted Float64Array (prefix × 2^20 + name number) and the list of distinct names, about
// 1 MB, in slices of a few ms, one per loop turn (loadVendors, before a sweep is applied).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { nextTurn } from '../turns.js';

/** Room for the name number below the prefix in a packed entry. */
const NAME_BITS = 2 ** 20;
/** How long one slice of building the index may run (ms). */
const BUILD_SLICE_MS = 5;

interface VendorIndex {
  /** prefix * NAME_BITS + name number, ascending */
  packed: Float64Array;
  names: string[];
}

let index: VendorIndex | undefined;
let loading: Promise<void> | undefined;

/**
 * Builds the index from an oui-data file's bytes as a latin1 string (one byte per character, the
 * fastest to read; names are decoded from UTF-8 here): 6-hex-digit keys and the first line of
 * their values. step() scans for at most `ms` and says whether it is done.
 */
export class VendorIndexBuilder {
  // "001B21": "Intel Corporate\n…" — the value up to its first escaped newline or its end; an
  // escape (\" \\ \uXXXX) is taken as a pair, so `\\n` is not mistaken for a newline.
  private readonly entry = /"([0-9A-Fa-f]{6})"\s*:\s*"((?:[^"\\]|\\[^n])*)/g;
  private readonly names: string[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly packed: number[] = [];

  constructor(private readonly text: string) {}

  step(ms = Infinity): boolean {
    const deadline = performance.now() + ms;
    const { entry, names, numbers, packed, text } = this;
    for (let k = 1; ; k++) {
      const m = entry.exec(text);
      if (m === null) {
        // V8 keeps the subject of the last successful match (RegExp.input): match something
        // small so the text can be collected now, not at the next match anywhere.
        /^/.exec('');
        return true;
      }
      const raw = m[2]!;
      let n = numbers.get(raw);
      if (n === undefined) {
        // Decoding makes a copy: a piece of a match would keep the whole 5.6 MB text alive.
        const decoded = Buffer.from(raw, 'latin1').toString('utf8');
        const name = (decoded.includes('\\') ? (JSON.parse(`"${decoded}"`) as string) : decoded).trim();
        if (name === '' || names.length >= NAME_BITS) continue;
        n = names.length;
        names.push(name);
        numbers.set(raw, n);
      }
      packed.push(Number.parseInt(m[1]!, 16) * NAME_BITS + n);
      if (k % 256 === 0 && performance.now() >= deadline) {
        /^/.exec('');
        return false;
      }
    }
  }

  /** The index (after step() said done). */
  index(): VendorIndex {
    return { packed: Float64Array.from(this.packed).sort(), names: this.names };
  }
}

const registryFile = () => createRequire(import.meta.url).resolve('oui-data');

/**
 * Loads the vendor index unless it is loaded: the file is read asynchronously and scanned in
 * slices of BUILD_SLICE_MS, one per loop turn (turns.ts). vendorOf() never blocks after it.
 */
export function loadVendors(): Promise<void> {
  if (index) return Promise.resolve();
  loading ??= (async () => {
    try {
      const builder = new VendorIndexBuilder(await readFile(registryFile(), 'latin1'));
      while (!builder.step(BUILD_SLICE_MS)) await nextTurn();
      index ??= builder.index();
    } finally {
      loading = undefined;
    }
  })();
  return loading;
}

/** The vendor of a MAC address (by its 24-bit prefix), or null; loads the index at once if loadVendors() has not. */
export function vendorOf(mac: string | null | undefined): string | null {
  if (!mac) return null;
  const hex = mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (hex.length !== 12) return null;
  // Locally administered (e.g. randomised or virtual) addresses have no registered vendor.
  if ((Number.parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return null;
  if (!index) {
    const builder = new VendorIndexBuilder(readFileSync(registryFile(), 'latin1'));
    builder.step();
    index = builder.index();
  }
  const prefix = Number.parseInt(hex.slice(0, 6), 16);
  const { packed, names } = index;
  let lo = 0;
  let hi = packed.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = Math.floor(packed[mid]! / NAME_BITS);
    if (at === prefix) return names[packed[mid]! - at * NAME_BITS]!;
    if (at < prefix) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}
