// The CSV import journal's SQL: rows of the meta table keyed `import-journal:<job>:<slice>`,
// each the ids one stored slice created, written in the slice's own transaction. What an import
// cut short leaves behind is rolled back from here at the next start (ipam/csv-import.ts).
import type { Db } from './db.js';

export class ImportJournalStore {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      insert: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)'),
      deleteBetween: db.prepare('DELETE FROM meta WHERE key >= ? AND key < ?'),
      deleteOne: db.prepare('DELETE FROM meta WHERE key = ?'),
      between: db.prepare('SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key'),
    };
  }

  insert(key: string, value: string): void {
    this.s.insert.run(key, value);
  }
  /** Entries with from <= key < to, in key order. */
  between(from: string, to: string): { key: string; value: string }[] {
    return this.s.between.all(from, to) as { key: string; value: string }[];
  }
  deleteBetween(from: string, to: string): void {
    this.s.deleteBetween.run(from, to);
  }
  delete(key: string): void {
    this.s.deleteOne.run(key);
  }
}
