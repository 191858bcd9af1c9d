// A fake EchoSocket for sweep tests without a network: answers the targets `answer` says, after
// a delay, with the identifier and sequence they were sent; records every request.
import type { EchoSocket } from '../../src/discovery/core/sweep.js';

export interface FakeEcho {
  socket: EchoSocket & { close(): void };
  calls: { target: string; seq: number; at: number }[];
  /** Delivers a reply now, as if it came from `source`. */
  reply(source: string, seq: number, id?: number): void;
}

/**
 * @param answer delay in ms after which `target` answers, or null for silence
 * @param gate while it is unresolved, every send reports 'busy' (the sweep waits)
 */
export function fakeEcho(answer: (target: string, attempt: number) => number | null, gate?: Promise<void>): FakeEcho {
  const calls: FakeEcho['calls'] = [];
  const attempts = new Map<string, number>();
  const start = performance.now();
  let open = gate === undefined;
  void gate?.then(() => {
    open = true;
  });
  let listener: (source: string, id: number, seq: number) => void = () => {};
  const id = 4242;
  const socket: FakeEcho['socket'] = {
    id,
    send(target, seq) {
      if (!open) return 'busy';
      calls.push({ target, seq, at: performance.now() - start });
      const attempt = attempts.get(target) ?? 0;
      attempts.set(target, attempt + 1);
      const delay = answer(target, attempt);
      if (delay !== null) setTimeout(() => listener(target, id, seq), delay);
      return 'sent';
    },
    listen(onReply) {
      listener = onReply;
    },
    close() {},
  };
  return { socket, calls, reply: (source, seq, replyId = id) => listener(source, replyId, seq) };
}
