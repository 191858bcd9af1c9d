// Docker model objects for tests that script an engine (DockerClient) instead of running one:
// a bridge network and a running container attached to one network.
import type { Container, Network } from '../../src/docker/core/model.js';

/** A local bridge network with one IPv4 subnet whose gateway is its .1. */
export const bridgeNetwork = (id: string, name: string, cidr: string): Network => ({
  id,
  name,
  driver: 'bridge',
  scope: 'local',
  internal: false,
  subnets: [{ cidr, gateway: cidr.replace(/0\/\d+$/, '1'), ip_range: null }],
});

/** A running nginx container with one IPv4 address on `network`. */
export const runningContainer = (
  id: string,
  name: string,
  attachment: { network: string; network_id: string; ipv4: string; mac: string },
): Container => ({
  id,
  name,
  image: 'nginx:1',
  image_id: null,
  state: 'running',
  health: 'none',
  restart_count: 0,
  exit_code: null,
  started_at: 1_700_000_000_000,
  finished_at: null,
  created_at: 1_699_000_000_000,
  compose_project: null,
  compose_service: null,
  networks: [{ ...attachment, ipv6: null, static_ipv4: null, static_ipv6: null }],
});
