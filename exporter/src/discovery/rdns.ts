// Reverse DNS (PTR) lookups for discovered addresses, with a positive/negative cache, sharing of
// concurrent identical lookups and a cap on queries in flight.
//
// Queries go through c-ares (node:dns promises.Resolver) as PTR queries for the in-addr.arpa /
// ip6.arpa name we build ourselves. We deliberately do not use Resolver#reverse: it goes through
// ares_gethostbyaddr, which consults /etc/hosts first and reports every failure (timeout,
// SERVFAIL, refused) as ENOTFOUND, so it could not tell "no name" from "resolver down".
//
// Names from the network are untrusted: only RFC 1123 host names are returned, anything else
// (spaces, ';', control characters, which c-ares hands back backslash-escaped) counts as no name.
import { systemClock } from '../clock.js';
import { promises as dnsPromises } from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export interface ReverseDnsOptions {
  /** 'ip', 'ip:port' or '[v6]:port'; default: the system resolver. */
  servers?: string[];
  /** Cache lifetime of a found name, default 3600. */
  ttlSeconds?: number;
  /** Cache lifetime of "no name" and of failures, default 600. */
  negativeTtlSeconds?: number;
  /** Per query, default 2000 (one try per server). */
  timeoutMs?: number;
  /** Max queries in flight, default 16; more wait in a FIFO queue. */
  concurrency?: number;
  /** Max cached addresses, default 100000; the least recently stored are dropped first. */
  maxCacheEntries?: number;
  /** Millisecond clock, for tests. */
  now?: () => number;
}

interface CacheEntry {
  readonly name: string | null;
  readonly expiresAt: number;
}

/** Errors meaning the server answered, but there is no (usable) PTR name. */
const NO_NAME_CODES = new Set<string>([
  dnsPromises.NOTFOUND, // NXDOMAIN
  dnsPromises.NODATA, // name exists, no PTR
  dnsPromises.BADRESP, // a reply arrived but its data could not be parsed
]);

const MAX_ADDRESS_TEXT = 64;

/**
 * The reverse-lookup name of an IP literal (e.g. '4.3.2.1.in-addr.arpa'); doubles as the cache
 * key, so different spellings of one IPv6 address share an entry. Throws TypeError for
 * anything that is not a plain dotted-quad IPv4 or an IPv6 literal (an IPv6 zone id is ignored).
 */
export function reverseLookupName(address: string): string {
  if (typeof address !== 'string' || address.length === 0 || address.length > MAX_ADDRESS_TEXT) {
    throw new TypeError(`not an IP address: ${describe(address)}`);
  }
  const family = net.isIP(address);
  if (family === 4 && ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return `${ipaddr.IPv4.parse(address).toByteArray().reverse().join('.')}.in-addr.arpa`;
  }
  if (family === 6 && ipaddr.IPv6.isValid(address)) {
    const nibbles: string[] = [];
    for (const b of ipaddr.IPv6.parse(address).toByteArray()) {
      nibbles.push((b >> 4).toString(16), (b & 0xf).toString(16));
    }
    return `${nibbles.reverse().join('.')}.ip6.arpa`;
  }
  throw new TypeError(`not an IP address: ${describe(address)}`);
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Lower-cases and strips one trailing dot; returns the name if it is an RFC 1123 host name
 * (letters, digits, hyphens and dots; labels 1-63 characters, not starting or ending with a
 * hyphen; at most 253 characters in all), otherwise null.
 */
export function normalizeHostName(raw: string): string | null {
  if (typeof raw !== 'string') return null;
  let name = raw.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253) return null;
  return name.split('.').every((label) => LABEL.test(label)) ? name : null;
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  return JSON.stringify(value.length > 48 ? `${value.slice(0, 45)}...` : value);
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a non-negative number`);
  return value;
}

export class ReverseDns {
  readonly #resolver: dnsPromises.Resolver;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #concurrency: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<{ name: string | null; answered: boolean }>>();
  readonly #waiting: Array<() => void> = [];
  #active = 0;
  #queries = 0;
  #healthy: boolean | null = null;

  constructor(opts: ReverseDnsOptions = {}) {
    const timeoutMs = positive(opts.timeoutMs, 2000, 'timeoutMs');
    this.#timeoutMs = timeoutMs;
    this.#ttlMs = positive(opts.ttlSeconds, 3600, 'ttlSeconds') * 1000;
    this.#negativeTtlMs = positive(opts.negativeTtlSeconds, 600, 'negativeTtlSeconds') * 1000;
    const concurrency = opts.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be an integer >= 1');
    this.#concurrency = concurrency;
    const maxEntries = opts.maxCacheEntries ?? 100_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError('maxCacheEntries must be an integer >= 1');
    this.#maxEntries = maxEntries;
    this.#now = opts.now ?? systemClock;
    this.#resolver = new dnsPromises.Resolver({ timeout: Math.max(1, Math.round(timeoutMs)), tries: 1 });
    if (opts.servers !== undefined) this.#resolver.setServers(opts.servers);
  }

  /** Number of queries actually sent (for tests and metrics). */
  get queries(): number {
    return this.#queries;
  }

  /**
   * Whether the last completed query got an answer from a server (true), or failed with a
   * network/timeout/server error (false); null before any. For a collector_up metric.
   */
  get healthy(): boolean | null {
    return this.#healthy;
  }

  /**
   * PTR name for an IPv4/IPv6 literal (lower-case, trailing dot removed), or null when there is
   * none or the lookup failed/timed out. Never rejects for lookup failures; rejects with
   * TypeError for a non-IP argument. Concurrent lookups of the same address share one query.
   */
  async lookup(address: string): Promise<string | null> {
    return (await this.resolve(address)).name;
  }

  /**
   * Like lookup, and says whether the answer came from the cache and, if not, whether a server
   * answered at all (false: timeout, refused, network error — the resolver is unreachable or
   * failing). A scan asks one address this way before the others, so a dead resolver costs it
   * one timeout, not one per host.
   */
  async resolve(address: string): Promise<{ name: string | null; answered: boolean; cached: boolean }> {
    const key = reverseLookupName(address);
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > this.#now()) return { name: cached.name, answered: true, cached: true };
      this.#cache.delete(key);
    }
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#query(key).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return { ...(await pending), cached: false };
  }

  async #query(key: string): Promise<{ name: string | null; answered: boolean }> {
    await this.#acquire();
    let name: string | null = null;
    let answered = false;
    try {
      this.#queries++;
      try {
        const answers = await this.#withTimeout(this.#resolver.resolvePtr(key));
        this.#healthy = true;
        answered = true;
        for (const raw of answers) {
          name = normalizeHostName(raw);
          if (name !== null) break;
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        answered = code !== undefined && NO_NAME_CODES.has(code);
        this.#healthy = answered;
      }
    } finally {
      this.#release();
    }
    this.#store(key, name);
    return { name, answered };
  }

  /**
   * c-ares stretches its timeout (about 2.9 s for 2000 ms and one try): the answer is awaited
   * for timeoutMs at most; a query still open then counts as a timeout (it ends by itself).
   */
  #withTimeout<T>(query: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('PTR query timed out'), { code: dnsPromises.TIMEOUT })),
        this.#timeoutMs,
      );
    });
    query.catch(() => {}); // a query that loses the race may still fail later
    return Promise.race([query, expired]).finally(() => clearTimeout(timer));
  }

  #store(key: string, name: string | null): void {
    const ttl = name === null ? this.#negativeTtlMs : this.#ttlMs;
    if (ttl <= 0) return;
    this.#cache.delete(key); // re-insert at the end: Map order is our eviction order
    this.#cache.set(key, { name, expiresAt: this.#now() + ttl });
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.#concurrency) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next)
      next(); // hand the slot straight to the next waiter; #active stays the same
    else this.#active--;
  }
}
