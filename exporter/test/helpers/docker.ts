// A private Docker engine per test file (test/fixtures/dockerd.sh): its own socket, data root
// and exec root under /tmp/lanscape-test-docker-*, vfs storage, no iptables, no default bridge,
// and a busybox image imported from Debian's busybox-static (nothing is pulled). Needs root.
// stop() tears down what the test left (containers, networks), stops the dockerd this helper
// started (by its PID) and removes its state; an exit handler does the same as a safety net.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { type Server, type Socket, createServer, connect } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { runCommand } from './processes.js';
import { requireTool } from './tools.js';

export const DOCKERD_SCRIPT = fileURLToPath(new URL('../fixtures/dockerd.sh', import.meta.url));
export const TEST_IMAGE = 'lanscape-test/busybox:latest';
/** A container command that exits at once on SIGTERM (a bare `sleep` as PID 1 ignores it). */
export const IDLE = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];

export interface TestDockerd {
  socket: string;
  pid: number;
  docker: Docker;
  /** Stops the engine the way a host shutdown does (its containers stop, nothing is removed). */
  stopEngine(): Promise<void>;
  /** Removes every container and network, stops the engine, deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Docker's client reads DOCKER_HOST & co. from the environment; name every connection option. */
export function dockerAt(socketPath: string): Docker {
  return new Docker({
    socketPath,
    host: undefined,
    port: undefined,
    protocol: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
  } as Docker.DockerOptions);
}

const runScript = (args: string[]) => runCommand('bash', [DOCKERD_SCRIPT, ...args]);

/** Starts an engine, or skips the test (locally) / fails it (CI) when the tools are missing. */
export async function startDockerd(t: TestContext): Promise<TestDockerd | undefined> {
  if (!requireTool(t, 'dockerd', 'apt-get install docker.io')) return undefined;
  if (!requireTool(t, 'docker', 'apt-get install docker.io')) return undefined;
  if (!requireTool(t, 'busybox', 'apt-get install busybox-static')) return undefined;
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('the Docker tests need root; CI must run every test');
    t.skip('the Docker tests need root');
    return undefined;
  }
  const dir = mkdtempSync('/tmp/lanscape-test-docker-');
  const down = () => spawnSync('bash', [DOCKERD_SCRIPT, 'down', dir], { stdio: 'ignore', timeout: 60_000 });
  process.once('exit', down);
  const up = await runScript(['up', dir]);
  if (up.code !== 0) {
    down();
    throw new Error(`dockerd.sh up failed (${up.code}): ${up.stderr}${up.stdout}`);
  }
  const socket = join(dir, 'docker.sock');
  const docker = dockerAt(socket);
  let stopped = false;
  return {
    socket,
    pid: Number(up.stdout.trim().split('\n').pop()),
    docker,
    async stopEngine() {
      const r = await runScript(['stop', dir]);
      if (r.code !== 0) throw new Error(`dockerd.sh stop failed (${r.code}): ${r.stderr}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        for (const c of await docker.listContainers({ all: true }))
          await docker.getContainer(c.Id).remove({ force: true });
        for (const n of await docker.listNetworks()) {
          if (!['none', 'host', 'bridge'].includes(n.Name)) await docker.getNetwork(n.Id).remove();
        }
      } catch {
        /* the engine may be stopped already; down() cleans up after it */
      }
      await runScript(['down', dir]);
      process.off('exit', down);
    },
  };
}

/**
 * A unix-socket relay in front of the engine: closing it makes the endpoint unreachable while
 * the engine and its containers run on, and opening it again brings the endpoint back.
 */
export class SocketRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.path, resolve));
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
