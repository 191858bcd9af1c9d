// Checks Proxmox VE API requests against the PVE API schema (test/fixtures/pve-schema.json,
// extracted from pve-apidata.js by test/fixtures/extract-pve-schema.mjs), the way
// PVE::JSONSchema does: parameter names (additionalProperties: 0), required ones, types,
// enum, minimum/maximum, minLength/maxLength, pattern, and formats — named ones (pve-node,
// pve-vmid, pve-qm-ipconfig, urlencoded, …, and generic `*-list`) and property strings
// (`key=value,…` with default_key, alias and keyAlias), read from the schema generically.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface SchemaNode {
  type?: string;
  optional?: number;
  enum?: string[];
  minimum?: number | string;
  maximum?: number | string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string | Record<string, SchemaNode>;
  default_key?: number;
  alias?: string;
  keyAlias?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: number | boolean;
  items?: SchemaNode;
}

export interface Endpoint {
  parameters: SchemaNode;
  returns: SchemaNode;
}
export interface PveSchema {
  source: string;
  endpoints: Record<string, Record<string, Endpoint>>;
}

export function loadPveSchema(): PveSchema {
  return JSON.parse(readFileSync(new URL('../fixtures/pve-schema.json', import.meta.url), 'utf8')) as PveSchema;
}

/** The schema path of a request path (/nodes/pve1/qemu/100 → /nodes/{node}/qemu/{vmid}) and its path parameters. */
export function matchPath(
  schema: PveSchema,
  path: string,
): { template: string; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const template of Object.keys(schema.endpoints)) {
    const tparts = template.split('/').filter(Boolean);
    if (tparts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (const [i, t] of tparts.entries()) {
      const m = /^\{(\w+)\}$/.exec(t);
      if (m) params[m[1]!] = parts[i]!;
      else if (t !== parts[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return { template, params };
  }
  return undefined;
}

// ---------------------------------------------------------------- named formats
const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?';
const re = (s: string) => new RegExp(`^(?:${s})$`);
const ipv4 = (v: string) => isIP(v) === 4;
const ipv6 = (v: string) => isIP(v) === 6;
function cidr(v: string, family: 4 | 6): boolean {
  const [a, len, extra] = v.split('/');
  if (extra !== undefined || !a || !len || !/^\d{1,3}$/.test(len)) return false;
  return isIP(a) === family && Number(len) <= (family === 4 ? 32 : 128);
}

/** What PVE's pve-qm-ipconfig accepts (PVE::QemuServer::parse_ipconfig), as an error or undefined. */
function checkIpconfig(value: string): string | undefined {
  const seen: Record<string, string> = {};
  for (const part of value.split(',')) {
    const m = /^(ip|gw|ip6|gw6)=(.*)$/.exec(part);
    if (!m) return `unknown or malformed part "${part}"`;
    if (seen[m[1]!] !== undefined) return `duplicate key ${m[1]}`;
    seen[m[1]!] = m[2]!;
  }
  if (seen.ip !== undefined && seen.ip !== 'dhcp' && !cidr(seen.ip, 4)) return `ip=${seen.ip} is not IPv4/CIDR or dhcp`;
  if (seen.ip6 !== undefined && !['dhcp', 'auto'].includes(seen.ip6) && !cidr(seen.ip6, 6))
    return `ip6=${seen.ip6} is not IPv6/CIDR, dhcp or auto`;
  if (seen.gw !== undefined && !ipv4(seen.gw)) return `gw=${seen.gw} is not an IPv4 address`;
  if (seen.gw6 !== undefined && !ipv6(seen.gw6)) return `gw6=${seen.gw6} is not an IPv6 address`;
  if (seen.gw !== undefined && (seen.ip === undefined || seen.ip === 'dhcp'))
    return 'gateway specified without a static IPv4 address';
  if (seen.gw6 !== undefined && (seen.ip6 === undefined || ['dhcp', 'auto'].includes(seen.ip6)))
    return 'gateway6 specified without a static IPv6 address';
  return undefined;
}

const FORMATS: Record<string, (v: string) => boolean | string | undefined> = {
  'pve-node': (v) => re(DNS_LABEL).test(v) || ipv4(v),
  'pve-vmid': (v) => /^[1-9][0-9]{2,8}$/.test(v),
  'dns-name': (v) => re(`(${DNS_LABEL}\\.)*${DNS_LABEL}`).test(v),
  'pve-storage-id': (v) => /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v),
  'pve-bridge-id': (v) => /^[-_.\w\d]+$/.test(v),
  'pve-configid': (v) => /^[a-z][a-z0-9_-]+$/i.test(v),
  'pve-poolid': (v) => /^[A-Za-z0-9_-]+$/.test(v),
  'pve-tag': (v) => /^(?=[\w+.-]{1,64}$)[\w+-][\w+.-]*$/.test(v),
  'pve-storage-content': (v) => ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'].includes(v),
  // PVE::JSONSchema::pve_verify_urlencoded: the unreserved set of encodeURIComponent plus %.
  urlencoded: (v) => /^[-%a-zA-Z0-9_.!~*'()]*$/.test(v) || 'invalid urlencoded string',
  'mac-addr': (v) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) && (parseInt(v.slice(0, 2), 16) & 1) === 0,
  ipv4,
  ipv6,
  ip: (v) => isIP(v) !== 0,
  address: (v) => isIP(v) !== 0 || re(`(${DNS_LABEL}\\.)*${DNS_LABEL}`).test(v),
  CIDR: (v) => cidr(v, 4) || cidr(v, 6),
  'disk-size': (v) => /^\d+(\.\d+)?[KMGT]?$/.test(v),
  'pve-volume-id-or-qm-path': (v) =>
    /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.test(v) || v === 'cdrom' || v === 'none' || /^\/dev\/.+|^\/[^\0]+$/.test(v),
  'pve-qm-ipconfig': (v) => checkIpconfig(v) ?? true,
};

/** PVE::Tools::split_list. */
function splitList(v: string): string[] {
  return v.split(/[\0\s,;]+/).filter(Boolean);
}

function checkFormat(format: string, value: string): string | undefined {
  const direct = FORMATS[format];
  if (direct) {
    const r = direct(value);
    return r === true ? undefined : `value does not match format ${format}${typeof r === 'string' ? ` (${r})` : ''}`;
  }
  const list = /^(.*)-a?list$/.exec(format);
  if (list && FORMATS[list[1]!]) {
    for (const item of splitList(value)) {
      const err = checkFormat(list[1]!, item);
      if (err) return `list item "${item}": ${err}`;
    }
    return undefined;
  }
  return `the fake PVE does not implement format ${format}: implement it in test/helpers/pve-schema.ts before using it`;
}

/** A property string `k=v,k2=v2` (or a bare value for the default key) against its format. */
function checkPropertyString(format: Record<string, SchemaNode>, value: string): string | undefined {
  const defaultKey = Object.entries(format).find(([, s]) => s.default_key)?.[0];
  const got: Record<string, string> = {};
  for (const part of value.split(',')) {
    let key: string;
    let v: string;
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (!defaultKey) return `"${part}" has no key and the format has no default key`;
      if (got[defaultKey] !== undefined) return `duplicate default key value "${part}"`;
      key = defaultKey;
      v = part;
      // A bare value naming a keyAlias entry (e.g. "virtio") is the default key's value.
    } else {
      key = part.slice(0, eq);
      v = part.slice(eq + 1);
    }
    const s = format[key];
    if (!s) return `unknown key "${key}"`;
    if (s.alias && s.keyAlias) {
      // virtio=MAC: model=virtio, macaddr=MAC
      if (got[s.keyAlias] !== undefined) return `duplicate key ${s.keyAlias}`;
      got[s.keyAlias] = key;
      key = s.alias;
    } else if (s.alias) {
      key = s.alias;
    }
    if (got[key] !== undefined) return `duplicate key ${key}`;
    got[key] = v;
  }
  for (const [k, s] of Object.entries(format)) {
    if (s.alias) continue;
    if (got[k] === undefined) {
      if (!s.optional) return `missing required key ${k}`;
      continue;
    }
    const err = checkValue(s, got[k]!);
    if (err) return `${k}: ${err}`;
  }
  return undefined;
}

/** One parameter value (as PVE receives it: a string) against its schema; an error or undefined. */
export function checkValue(s: SchemaNode, value: string): string | undefined {
  switch (s.type ?? 'string') {
    case 'integer':
      if (!/^-?\d+$/.test(value)) return `"${value}" is not an integer`;
      break;
    case 'number':
      if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) return `"${value}" is not a number`;
      break;
    case 'boolean':
      if (!/^(0|1|true|false|yes|no|on|off)$/i.test(value)) return `"${value}" is not a boolean`;
      break;
    case 'string':
      break;
    default:
      return `the fake PVE does not check parameters of type ${s.type}`;
  }
  if (s.type === 'integer' || s.type === 'number') {
    if (s.minimum !== undefined && Number(value) < Number(s.minimum)) return `${value} is less than ${s.minimum}`;
    if (s.maximum !== undefined && Number(value) > Number(s.maximum)) return `${value} is greater than ${s.maximum}`;
  }
  if (s.enum && !s.enum.includes(value)) return `"${value}" is not one of ${s.enum.join(', ')}`;
  if (s.maxLength !== undefined && value.length > s.maxLength) return `longer than ${s.maxLength}`;
  if (s.minLength !== undefined && value.length < s.minLength) return `shorter than ${s.minLength}`;
  if (s.pattern && !new RegExp(`^(?:${s.pattern.replace(/\(\?\^:/g, '(?:')})$`).test(value))
    return `"${value}" does not match ${s.pattern}`;
  if (typeof s.format === 'string') return checkFormat(s.format, value);
  if (s.format && typeof s.format === 'object') return checkPropertyString(s.format, value);
  return undefined;
}

/** The schema of a parameter name, including indexed ones (net0 → net[n], n 0–31). */
function propertyFor(props: Record<string, SchemaNode>, name: string): SchemaNode | undefined {
  if (props[name]) return props[name];
  const m = /^([a-z]+)(\d{1,2})$/.exec(name);
  if (m && Number(m[2]) <= 31) return props[`${m[1]}[n]`];
  return undefined;
}

/** Every violation of a request's parameters (path, query or form) against the endpoint's schema. */
export function checkParameters(schema: SchemaNode, params: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  const props = schema.properties ?? {};
  for (const [name, raw] of Object.entries(params)) {
    const s = propertyFor(props, name);
    if (!s) {
      if (
        schema.additionalProperties === 0 ||
        schema.additionalProperties === false ||
        schema.additionalProperties === undefined
      ) {
        out.push(`${name}: property is not defined in schema and the schema does not allow additional properties`);
      }
      continue;
    }
    if (Array.isArray(raw)) {
      out.push(`${name}: sent ${raw.length} times`);
      continue;
    }
    const err = checkValue(s, raw);
    if (err) out.push(`${name}: ${err}`);
  }
  for (const [name, s] of Object.entries(props)) {
    if (!s.optional && !name.includes('[n]') && params[name] === undefined)
      out.push(`${name}: property is missing and it is not optional`);
  }
  return out;
}

/** Light check of an answer against `returns` (type, required item properties): keeps the fake honest. */
export function checkReturns(s: SchemaNode, data: unknown, where = 'data'): string[] {
  if (data === null || data === undefined)
    return s.optional || s.type === 'null' || s.type === undefined ? [] : [`${where}: null but ${s.type} expected`];
  const t = s.type;
  const out: string[] = [];
  if (t === 'array') {
    if (!Array.isArray(data)) return [`${where}: expected an array`];
    if (s.items) for (const [i, item] of data.entries()) out.push(...checkReturns(s.items, item, `${where}[${i}]`));
  } else if (t === 'object') {
    if (typeof data !== 'object' || Array.isArray(data)) return [`${where}: expected an object`];
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const v = (data as Record<string, unknown>)[k];
      if (v === undefined) {
        if (!p.optional) out.push(`${where}.${k}: missing`);
        continue;
      }
      out.push(...checkReturns(p, v, `${where}.${k}`));
    }
  } else if (t === 'integer') {
    if (!Number.isInteger(data)) out.push(`${where}: expected an integer`);
  } else if (t === 'number') {
    if (typeof data !== 'number') out.push(`${where}: expected a number`);
  } else if (t === 'string') {
    if (typeof data !== 'string') out.push(`${where}: expected a string`);
  } else if (t === 'boolean') {
    if (typeof data !== 'boolean' && data !== 0 && data !== 1) out.push(`${where}: expected a boolean`);
  }
  return out;
}
