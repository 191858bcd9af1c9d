// lanscape-exporter: the entry point behind `npm start`; `main.js agent` runs a remote scan agent
// instead (#15, `npm run agent`).
import { configFrom, fail, parseCli, str } from './cli/args.js';
import { createLogger, startExporter } from './server.js';
import { StoreVersionError } from './store/db.js';
import { StoreInUseError } from './store/ownership.js';
import { VERSION } from './version.js';

const USAGE = `usage: lanscape-exporter [--config lanscape.yaml] [--check-config] [--version]
Settings come from the YAML file (--config or LANSCAPE_CONFIG) and LANSCAPE_* variables; see README.md.`;

const AGENT_USAGE = `usage: lanscape-exporter agent [--interval seconds] [--version]
A remote scan agent: LANSCAPE_AGENT_CENTRAL_URL, LANSCAPE_AGENT_TOKEN, optional LANSCAPE_AGENT_CA_FILE or
LANSCAPE_AGENT_FINGERPRINT, LANSCAPE_AGENT_QUEUE_DIR, LANSCAPE_AGENT_QUEUE_MAX, LANSCAPE_AGENT_LISTEN; see README.md.
--interval (LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS): report more often than central asks (10–600 s).`;

if (process.argv[2] === 'agent') {
  const { values } = parseCli(AGENT_USAGE, { version: { type: 'boolean' }, interval: { type: 'string' } }, 1);
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    process.exit(0);
  }
  const { runAgent } = await import('./agent/main.js');
  // The flag wins over the variable; both go through the one check (agent/config.ts).
  const interval = str(values.interval);
  await runAgent(
    interval === undefined ? process.env : { ...process.env, LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: interval },
    fail,
  );
} else {
  await runExporter();
}

async function runExporter(): Promise<void> {
  const { values } = parseCli(
    USAGE,
    {
      config: { type: 'string' },
      'check-config': { type: 'boolean' },
      version: { type: 'boolean' },
    },
    0,
  );

  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    process.exit(0);
  }
  const config = configFrom(str(values.config));
  if (values['check-config']) {
    process.stdout.write('configuration is valid\n');
    process.exit(0);
  }

  const logger = createLogger(config);
  let exporter;
  try {
    exporter = await startExporter(config, logger);
  } catch (e) {
    if (e instanceof StoreVersionError || e instanceof StoreInUseError) fail(`${config.db}: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL')
      fail(`cannot listen on ${config.listen}: ${err.message}`);
    throw e;
  }
  const running = exporter;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      running.close().then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
