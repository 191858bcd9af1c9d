// Shared command-line handling: strict flags, config loading, one-line errors with exit code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface Cli {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseCli(
  usage: string,
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals: number,
): Cli {
  try {
    const parsed = parseArgs({
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: allowPositionals > 0,
      strict: true,
    }) as Cli;
    if (parsed.values.help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (parsed.positionals.length > allowPositionals)
      throw new Error(`unexpected argument ${parsed.positionals[allowPositionals]}`);
    return parsed;
  } catch (e) {
    fail(`${(e as Error).message}\n${usage}`);
  }
}

export function configFrom(configFile: string | undefined): Config {
  try {
    return loadConfig(process.env, configFile);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

export function fail(message: string): never {
  process.stderr.write(`lanscape: ${message}\n`);
  process.exit(2);
}

export function str(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
