// npm run restore -- FILE: replaces a stopped store with a backup.
import { BackupError, restoreStore } from '../store/backup.js';
import { configFrom, fail, parseCli, str } from './args.js';

const USAGE =
  'usage: npm run restore -- FILE [--config lanscape.yaml] [--db PATH]\n' +
  'Checks FILE (a Lanscape store, schema not newer than this version, integrity ok) and puts it in place of\n' +
  'the store (LANSCAPE_DB or --db), which must not be in use. The old store is kept as *.pre-restore-<time>.';
const { values, positionals } = parseCli(USAGE, { config: { type: 'string' }, db: { type: 'string' } }, 1);
const file = positionals[0] ?? fail(`name the backup file\n${USAGE}`);
const target = str(values.db) ?? configFrom(str(values.config)).db;
try {
  process.stdout.write(`${JSON.stringify(await restoreStore(file, target))}\n`);
} catch (e) {
  if (e instanceof BackupError) fail(e.message);
  throw e;
}
