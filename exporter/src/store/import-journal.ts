// The CSV import journal's SQL: rows of the meta table keyed `import-journal:<job>:<slice>`,
// each the ids one stored slice created, written in the slice's own transaction. What an import
// cut short leaves behind is rolled back from here at the next start (ipam/csv-import.ts).
import type { Store } from './store.js';

export class ImportJournalStore {
  constructor(private readonly store: Store) {}

  async insert(key: string, value: string): Promise<void> {
    await this.store.exec.run('INSERT INTO meta (key, value) VALUES (?, ?)', [key, value]);
  }
  /** Entries with from <= key < to, in key order. */
  between(from: string, to: string): Promise<{ key: string; value: string }[]> {
    return this.store.exec.all('SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key', [from, to]);
  }
  async deleteBetween(from: string, to: string): Promise<void> {
    await this.store.exec.run('DELETE FROM meta WHERE key >= ? AND key < ?', [from, to]);
  }
  async delete(key: string): Promise<void> {
    await this.store.exec.run('DELETE FROM meta WHERE key = ?', [key]);
  }
}
