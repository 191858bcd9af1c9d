// Shared pieces of the stack tests: repository paths, YAML loading, and the test overlay of
// the repository's prometheus.yml (file paths only — everything else is used as shipped).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const PROMETHEUS_YML = join(REPO, 'provisioning/prometheus/prometheus.yml');
export const ALERTMANAGER_YML = join(REPO, 'provisioning/alertmanager/alertmanager.yml');
export const COMPOSE_YML = join(REPO, 'docker-compose.yml');

export function readYaml(path: string): any {
  return parse(readFileSync(path, 'utf8'));
}

/**
 * prometheus.yml with its container paths replaced by the test's: rule files from the
 * repository's alerting/, and the read-token file the compose entrypoint would write.
 */
export function prometheusConfigForTest(paths: { tokenFile: string }, file = PROMETHEUS_YML): string {
  const config = readYaml(file);
  config.rule_files = (config.rule_files as string[]).map((f) => f.replace(/^\/etc\/prometheus\/alerting\//, `${join(REPO, 'alerting')}/`));
  for (const job of config.scrape_configs as any[]) {
    for (const sd of job.http_sd_configs ?? []) {
      if (sd.authorization?.credentials_file) sd.authorization.credentials_file = paths.tokenFile;
    }
  }
  return stringify(config);
}

/** Polls `probe` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>, everyMs = 1_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
