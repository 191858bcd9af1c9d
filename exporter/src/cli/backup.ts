// npm run backup -- FILE: consistent online backup of the running store.
import { BackupError, backupStore } from '../store/backup.js';
import { configFrom, fail, parseCli, str } from './args.js';

const USAGE =
  'usage: npm run backup -- FILE [--config lanscape.yaml] [--db PATH]\n' +
  "Copies the store (LANSCAPE_DB or --db) to FILE with SQLite's online backup; the exporter may keep running.";
const { values, positionals } = parseCli(USAGE, { config: { type: 'string' }, db: { type: 'string' } }, 1);
const file = positionals[0] ?? fail(`name the backup file\n${USAGE}`);
const source = str(values.db) ?? configFrom(str(values.config)).db;
try {
  process.stdout.write(`${JSON.stringify(await backupStore(source, file))}\n`);
} catch (e) {
  if (e instanceof BackupError) fail(e.message);
  throw e;
}
