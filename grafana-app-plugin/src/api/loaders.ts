// Loaders over the typed client for lists the pages want whole.
import { api } from './client';
import type { Subnet } from './types';

/** Every subnet, following the exporter's pages (1,000 a page). */
export async function allSubnets(): Promise<Subnet[]> {
  const out: Subnet[] = [];
  for (;;) {
    const page = await api.subnets({ offset: out.length });
    out.push(...page.results);
    if (page.results.length === 0 || out.length >= page.count) {
      return out;
    }
  }
}
