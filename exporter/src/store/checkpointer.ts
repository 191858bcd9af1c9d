// WAL checkpoints off the event loop. SQLite checkpoints automatically inside the COMMIT that
// pushes the WAL past 1,000 pages, on the committing connection: under a stream of writes that
// copied thousands of pages back into the database file (and synced it) in one go, holding the
// event loop 150–350 ms inside a write batch's COMMIT. The exporter's connection turns that off
// (wal_autocheckpoint = 0) and a worker thread with its own connection runs PASSIVE checkpoints
// every CHECKPOINT_MS: they copy what readers allow without ever blocking a writer or reader.
// The worker is plain CommonJS run from a string, so it loads the same way under tsx and dist.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

/** How often the worker checkpoints (ms). */
const CHECKPOINT_MS = 500;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: the next tick tries again */ } };
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export class Checkpointer {
  private readonly worker: Worker | undefined;

  /** Starts checkpointing `db`'s file in a worker; a store in memory has no WAL to checkpoint. */
  constructor(db: Db) {
    if (db.memory) return;
    db.pragma('wal_autocheckpoint = 0');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { file: db.name, driver, everyMs: CHECKPOINT_MS } });
    this.worker.unref();
  }

  /** Stops the worker after a last checkpoint; call before closing the store. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // keeps the process alive until the last checkpoint is done
    worker.postMessage('stop');
    await exited;
  }
}
