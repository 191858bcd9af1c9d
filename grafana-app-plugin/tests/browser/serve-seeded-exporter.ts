// Starts the seeded exporter (seeded-exporter.ts) for a test in another process (the data source's
// Jest test): prints one JSON line {url, tokens, ids, proxmox} and stops when its stdin closes or
// on SIGTERM. Everything on 127.0.0.1, scans off.
import { startSeededExporter } from './seeded-exporter';

async function main(): Promise<void> {
  const seeded = await startSeededExporter({ proxmox: true });
  let stopping = false;
  const stop = async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    await seeded.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
  process.stdout.write(
    `${JSON.stringify({ url: seeded.url, tokens: seeded.tokens, ids: seeded.ids, proxmox: seeded.proxmox })}\n`
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
