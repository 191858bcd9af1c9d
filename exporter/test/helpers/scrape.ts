// Reading a Prometheus exposition in tests: one scrape, and one sample out of it.
import assert from 'node:assert/strict';

/** GET {url}/metrics: the exposition text (fails unless 200 in the Prometheus text format). */
export async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
  return r.text();
}

/** The value of the first series of `name` carrying all of `labels`, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
