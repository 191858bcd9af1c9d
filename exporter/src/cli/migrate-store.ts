// npm run migrate-store -- --from FILE --to URL: copies a SQLite store into an empty PostgreSQL
// database (store/copy-store.ts). Progress on stderr, the copied tables as JSON on stdout.
import { ConfigSchema } from '../config/schema.js';
import { CopyStoreError, copyStore } from '../store/copy-store.js';
import { migratePostgresStore } from '../store/pg-schema.js';
import { Store, openPool } from '../store/store.js';
import { fail, parseCli, str } from './args.js';

const USAGE =
  'usage: npm run migrate-store -- --from lanscape.db --to postgres://user:password@host:5432/lanscape\n' +
  'Copies every table of a SQLite store (the exporter on it stopped, or a backup of it) into an empty\n' +
  'PostgreSQL database, keeping ids, and compares the row counts before committing. The target must be empty.';
const { values } = parseCli(USAGE, { from: { type: 'string' }, to: { type: 'string' } }, 0);
const from = str(values.from) ?? fail(`name the SQLite store with --from\n${USAGE}`);
const to = str(values.to) ?? fail(`name the PostgreSQL database with --to\n${USAGE}`);
// The same checks as LANSCAPE_DATABASE_URL (postgres:// only, verified TLS), without echoing the password.
const checked = ConfigSchema.shape.database.safeParse({ url: to });
if (!checked.success) fail(`--to: ${checked.error.issues.map((i) => i.message).join('; ')}`);

const store = Store.postgres(openPool(to, { poolSize: 2 }));
try {
  let shown = '';
  const copied = await copyStore(from, store.exec, {
    migrate: migratePostgresStore,
    onProgress: ({ table, copied: n, total }) => {
      const line = `${table}: ${n}/${total}`;
      if (line !== shown) process.stderr.write(`${line}\n`);
      shown = line;
    },
  });
  process.stdout.write(`${JSON.stringify({ copied })}\n`);
} catch (e) {
  if (e instanceof CopyStoreError) fail(e.message);
  fail(`copy failed, no rows were written: ${(e as Error).message}`);
} finally {
  await store.close();
}
