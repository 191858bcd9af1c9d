// Lists of keys as statement parameters (`IN (?, ?, …)`, one subquery per item): in chunks, each
// padded to a power of two by repeating its last item, so a handful of statement texts (one per
// size, each prepared once) serve any count. A repeated key changes no answer.

/** `items` in chunks of at most `max`, each padded to a power of two. */
export function* paddedChunks<T>(items: readonly T[], max: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += max) {
    const chunk = items.slice(i, i + max);
    let size = 1;
    while (size < chunk.length) size *= 2;
    while (chunk.length < size) chunk.push(chunk[chunk.length - 1]!);
    yield chunk;
  }
}
