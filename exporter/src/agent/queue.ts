// The agent's bounded result queue on disk (#15): one file per batch, named by a sequence
// number so the directory lists in the order the batches were made; written to a temporary
// name, fsync'ed, renamed and the directory fsync'ed, so a batch is in the queue whole or not at
// all after a crash. When the queue holds `max` batches, the oldest is dropped and counted; the
// count lives in the directory too (`dropped`), so it survives restarts.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const NAME_RE = /^(\d{16})-([0-9a-f-]{36})\.json$/;
const DROPPED = 'dropped';

export interface QueuedBatch {
  /** The file name (the queue's key). */
  name: string;
  batchId: string;
}

/** Which batches go when `incoming` more arrive at a queue of `held` (oldest first) bounded by `max` (pure). */
export function overflow<T>(held: readonly T[], incoming: number, max: number): T[] {
  return held.slice(0, Math.max(0, held.length + incoming - max));
}

export class DiskQueue {
  private names: string[];
  private next: number;
  private droppedTotal: number;

  constructor(
    readonly dir: string,
    readonly max: number,
  ) {
    mkdirSync(dir, { recursive: true });
    const files = readdirSync(dir);
    // A batch caught mid-write by a crash: never renamed, never sent.
    for (const f of files) if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    this.names = files.filter((f) => NAME_RE.test(f)).sort();
    const last = this.names.at(-1);
    this.next = last ? Number(NAME_RE.exec(last)![1]) + 1 : 1;
    let dropped = 0;
    try {
      dropped = Number(readFileSync(join(dir, DROPPED), 'utf8').trim()) || 0;
    } catch {
      // no batch dropped yet
    }
    this.droppedTotal = dropped;
  }

  get depth(): number {
    return this.names.length;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  /** Adds a batch durably; drops the oldest when full. Returns the batches dropped. */
  push(batchId: string, body: unknown): QueuedBatch[] {
    const victims = overflow(this.names, 1, this.max);
    const name = `${String(this.next++).padStart(16, '0')}-${batchId}.json`;
    const tmp = join(this.dir, `${name}.tmp`);
    writeDurably(tmp, JSON.stringify(body));
    renameSync(tmp, join(this.dir, name));
    for (const v of victims) rmSync(join(this.dir, v), { force: true });
    if (victims.length > 0) {
      this.droppedTotal += victims.length;
      writeDurably(join(this.dir, `${DROPPED}.tmp`), String(this.droppedTotal));
      renameSync(join(this.dir, `${DROPPED}.tmp`), join(this.dir, DROPPED));
    }
    syncDir(this.dir);
    this.names = [...this.names.slice(victims.length), name];
    return victims.map((v) => ({ name: v, batchId: NAME_RE.exec(v)![2]! }));
  }

  /** The oldest batch and its body, or undefined when the queue is empty. */
  peek(): { entry: QueuedBatch; body: unknown } | undefined {
    const name = this.names[0];
    if (!name) return undefined;
    return {
      entry: { name, batchId: NAME_RE.exec(name)![2]! },
      body: JSON.parse(readFileSync(join(this.dir, name), 'utf8')),
    };
  }

  /** Removes a batch central has (or refused for good). */
  remove(entry: QueuedBatch): void {
    rmSync(join(this.dir, entry.name), { force: true });
    syncDir(this.dir);
    this.names = this.names.filter((n) => n !== entry.name);
  }
}

function writeDurably(path: string, text: string): void {
  writeFileSync(path, text);
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
