// The remote command lines of a traffic test. They are built only from values that were
// validated (IP literals or checked host names, integers in range, enums) and every word is
// shell-quoted as well, because sshd hands the command to the remote user's shell.
import { HOSTNAME_RE, ipLiteral, isHostAddress } from '../../shared/formats.js';

export { HOSTNAME_RE, ipLiteral, isHostAddress };

export type Protocol = 'tcp' | 'udp';

export const LIMITS = {
  duration: [1, 300],
  parallel: [1, 32],
  bitrate: [1, 100_000_000_000],
  port: [1024, 65535],
} as const;

/** Seconds `timeout` waits after TERM before it sends KILL. */
export const KILL_AFTER_SECONDS = 5;

export class CommandError extends Error {}

/** POSIX shell quoting: the word inside single quotes, each ' as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function int(name: string, value: number, [min, max]: readonly [number, number]): string {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new CommandError(`${name} must be an integer ${min}–${max}, got ${value}`);
  return String(value);
}

function address(text: string): string {
  if (!isHostAddress(text))
    throw new CommandError(`${JSON.stringify(text.slice(0, 64))} is neither an IP address nor a host name`);
  return ipLiteral(text) ?? text;
}

export interface ClientParams {
  targetAddress: string;
  port: number;
  protocol: Protocol;
  durationSeconds: number;
  /** bits per second; null leaves iperf3's default (unlimited TCP) */
  bitrate: number | null;
  parallel: number;
  reverse: boolean;
}

/** iperf3 as a client: `-c <addr> -p <port> -J -t <s> [-u] [-b <bps>] [-P <n>] [-R]`. */
export function iperfClientArgv(p: ClientParams): string[] {
  const argv = [
    'iperf3',
    '-c',
    address(p.targetAddress),
    '-p',
    int('port', p.port, LIMITS.port),
    '-J',
    '-t',
    int('duration', p.durationSeconds, LIMITS.duration),
  ];
  if (p.protocol === 'udp') argv.push('-u');
  else if (p.protocol !== 'tcp') throw new CommandError(`protocol must be tcp or udp, got ${String(p.protocol)}`);
  if (p.bitrate !== null) argv.push('-b', int('bitrate', p.bitrate, LIMITS.bitrate));
  if (int('parallel', p.parallel, LIMITS.parallel) !== '1') argv.push('-P', String(p.parallel));
  if (p.reverse) argv.push('-R');
  return argv;
}

/**
 * A one-off iperf3 server (`-s -1`: it exits after one test). --forceflush makes it print
 * "Server listening" at once although its stdout is a pipe, which is how we know it is ready.
 */
export function iperfServerArgv(port: number, bindAddress: string | null): string[] {
  const argv = ['iperf3', '-s', '-1', '--forceflush', '-p', int('port', port, LIMITS.port)];
  if (bindAddress !== null) {
    const ip = ipLiteral(bindAddress);
    if (ip === null) throw new CommandError('the server binds to IP addresses only');
    argv.push('-B', ip);
  }
  return argv;
}

/**
 * The command line sent over SSH: `timeout --kill-after=5 <seconds> <argv...>`, every word
 * quoted. The remote timeout ends the process even when our connection is gone (sshd does
 * not signal commands without a terminal when the client disappears).
 */
export function remoteCommand(argv: readonly string[], timeoutSeconds: number): string {
  const seconds = int('timeout', timeoutSeconds, [1, 100_000]);
  for (const word of argv) {
    if (/[\0\n\r]/.test(word)) throw new CommandError('command words cannot contain NUL or line breaks');
  }
  return ['timeout', `--kill-after=${KILL_AFTER_SECONDS}`, seconds, ...argv].map(shellQuote).join(' ');
}
