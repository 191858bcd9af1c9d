// Bearer tokens with scopes admin ⊃ write ⊃ read. Tokens are compared as SHA-256 digests with
// timingSafeEqual, and every configured token is checked, so timing reveals nothing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config, Scope } from '../config/schema.js';

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export interface TokenIdentity { readonly name: string; readonly scope: Scope }

export class TokenVerifier {
  private readonly tokens: { digest: Buffer; identity: TokenIdentity }[];

  constructor(tokens: Config['tokens']) {
    const list: { token: string; identity: TokenIdentity }[] = [];
    for (const scope of ['read', 'write', 'admin'] as const) {
      const token = tokens[scope];
      if (token) list.push({ token, identity: { name: scope, scope } });
    }
    for (const t of tokens.named) list.push({ token: t.token, identity: { name: t.name, scope: t.scope } });
    this.tokens = list.map((t) => ({ digest: digest(t.token), identity: t.identity }));
  }

  get configured(): number {
    return this.tokens.length;
  }

  /** The identity of a bearer token, or undefined when it matches none. */
  verify(token: string): TokenIdentity | undefined {
    const d = digest(token);
    let match: TokenIdentity | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(d, t.digest) && !match) match = t.identity;
    }
    return match;
  }
}

export function allows(have: Scope, need: Scope): boolean {
  return RANK[have] >= RANK[need];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Reads the token from `Authorization: Bearer <token>`; undefined when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]{1,1024})[ ]*$/i.exec(header);
  return m?.[1];
}
