// External tools the tests use. Locally a missing tool skips the test; under CI=true it fails,
// because CI must run every test.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Returns the tool's path, or skips (locally) / throws (CI) when it is not installed. */
export function requireTool(t: TestContext, tool: string, installHint: string): string | undefined {
  const path = which(tool);
  if (path) return path;
  const message = `${tool} is not installed (${installHint})`;
  if (process.env.CI) throw new Error(`${message}; CI must run every test`);
  t.skip(message);
  return undefined;
}
