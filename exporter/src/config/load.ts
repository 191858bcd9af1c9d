// Reads the YAML file and the environment, env over file, and validates the result. Errors
// name the key, where it came from, the value (secrets masked) and what is allowed.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Config, ConfigSchema, ENV_VARS } from './schema.js';

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    // Messages may quote a value (a URL in a list, a YAML line): credentials inside never show.
    const masked = problems.map(maskCredentials);
    super(`invalid configuration:\n  - ${masked.join('\n  - ')}`);
    this.problems = masked;
    this.name = 'ConfigError';
  }
}

/** Query and fragment parameters whose value is a credential (`?token=`, `&access_token=`, `#password=`, `?api_key=`…). */
const SECRET_PARAM =
  /([?&#;])([^=&#;\s,"]*(?:token|passw|pwd|secret|key|auth|credential|signature|sig)[^=&#;\s,"]*)=([^&#;\s,"]*)/gi;
/** The userinfo of a URL: `scheme://user:pass@`, `scheme://token@`. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"]+@/gi;

/**
 * Text with the credentials inside any URL in it masked: the userinfo (`user:pass@` becomes
 * `***@`) and the values of credential-like query or fragment parameters (`?token=***`).
 * Works on text that is not a valid URL too (a comma-separated list, a message quoting one).
 */
export function maskCredentials(text: string): string {
  return text.replace(USERINFO, '$1***@').replace(SECRET_PARAM, '$1$2=***');
}

export function loadConfig(env: NodeJS.ProcessEnv, configFile?: string): Config {
  const file = configFile ?? env.LANSCAPE_CONFIG;
  const raw: Record<string, unknown> = file ? readYaml(file) : {};
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const v of ENV_VARS) {
    const value = env[v.name];
    if (value === undefined || value === '') continue;
    sources.set(v.path.join('.'), v.name);
    if (v.int && !/^-?\d{1,12}$/.test(value.trim())) {
      problems.push(
        `${v.path.join('.')} (from ${v.name}) = ${show(value, v.secret)}: expected a whole number; ${v.doc}`,
      );
      continue;
    }
    const clash = setPath(raw, v.path, v.int ? Number(value.trim()) : value);
    if (clash) problems.push(`${clash}${file ? ` in ${file}` : ''} must be a mapping to take ${v.name}`);
  }
  if (problems.length) throw new ConfigError(problems);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => describeIssue(i, raw, sources, file)));
  return parsed.data;
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`config file ${file}: ${(e as Error).message}`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new ConfigError(doc.errors.map((e) => `config file ${file}: ${e.message}`));
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError([`config file ${file}: the top level must be a mapping`]);
  return value as Record<string, unknown>;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
  sources: Map<string, string>,
  file?: string,
): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => [...path, k].join('.'));
    return `unknown setting${keys.length > 1 ? 's' : ''} ${keys.join(', ')}${file ? ` in ${file}` : ''}`;
  }
  const key = path.join('.') || '(top level)';
  // An issue on a group (e.g. metrics) may come from several variables below it.
  const envs = [...sources].filter(([k]) => k === key || k.startsWith(`${key}.`)).map(([, name]) => name);
  const origin = envs.length ? ` (from ${envs.join(', ')})` : file ? ` (from ${file})` : '';
  const value = getPath(raw, path);
  const shown = value === undefined ? 'missing' : `= ${show(value, isSecretKey(key))}`;
  return `${key}${origin} ${shown}: ${issue.message}`;
}

const SECRET_KEY = /token|password|secret/i;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.split('.').pop() ?? '') || ENV_VARS.some((v) => v.secret && v.path.join('.') === key);
}

/**
 * JSON of a value with every secret inside it masked (secret keys, credentials in URLs), then
 * shortened for one line: masking comes first, so a cut never leaves part of a secret.
 */
function show(value: unknown, secret?: boolean): string {
  if (secret) return '"***"';
  const text =
    JSON.stringify(value, (k, v: unknown) =>
      k && SECRET_KEY.test(k) ? '***' : typeof v === 'string' ? maskCredentials(v) : v,
    ) ?? maskCredentials(String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Sets a nested value; returns the key of a non-mapping in the way instead of overwriting it. */
function setPath(obj: Record<string, unknown>, path: string[], value: unknown): string | undefined {
  let cur = obj;
  for (const [i, part] of path.slice(0, -1).entries()) {
    const next = cur[part];
    if (next === undefined || next === null) cur[part] = {};
    else if (typeof next !== 'object' || Array.isArray(next)) return path.slice(0, i + 1).join('.');
    cur = cur[part] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
  return undefined;
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const part of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
