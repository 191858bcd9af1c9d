// Docker metrics, read from the service's in-memory snapshot at scrape time: no call to any
// engine happens during a scrape (stats are sampled in the background). Series exist per
// configured endpoint and per container it reports, so their number is bounded by what runs.
import type { Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import { CHECK_FAILURE_REASONS } from './core/image-update.js';
import { CONTAINER_STATES, HEALTH_STATUSES } from './core/model.js';
import type { DockerService } from './service.js';

export function registerDockerMetrics(registry: Registry, docker: DockerService): void {
  if (docker.config.endpoints.length === 0) return;
  const gauge = snapshotGroup(registry, refresh);
  const up = gauge(
    'lanscape_docker_up',
    'Whether the Docker endpoint answers and its event stream is open (1) or not (0).',
  );
  const info = gauge(
    'lanscape_docker_container_info',
    'Containers with their image and compose project/service; the value is always 1.',
  );
  const state = gauge(
    'lanscape_docker_container_state',
    `Container state: 1 for the current one, 0 for the others (${CONTAINER_STATES.join(', ')}).`,
  );
  const health = gauge(
    'lanscape_docker_container_health_status',
    `Healthcheck status: 1 for the current one, 0 for the others (${HEALTH_STATUSES.join(', ')}; none without a healthcheck).`,
  );
  const restarts = gauge(
    'lanscape_docker_container_restarts_total',
    "Restarts by the restart policy (Docker's RestartCount; starts again at 0 when the container is recreated).",
    'counter',
  );
  const started = gauge('lanscape_docker_container_started_timestamp_seconds', 'When the container last started.');
  const cpu = gauge(
    'lanscape_docker_container_cpu_seconds_total',
    'CPU time of running containers (user and system), sampled in the background.',
    'counter',
  );
  const memory = gauge(
    'lanscape_docker_container_memory_bytes',
    'Memory working set of running containers (usage minus inactive page cache), sampled in the background.',
  );
  const overlapInfo = gauge(
    'lanscape_docker_network_overlap_info',
    'Docker network pools that overlap a subnet managed in IPAM (relation same, inside or contains); the value is always 1.',
  );
  const overlaps = gauge(
    'lanscape_docker_network_overlaps',
    'Docker network pools of the endpoint that overlap subnets managed in IPAM.',
  );

  const updateAvailable = gauge(
    'lanscape_docker_container_image_update_available',
    "Whether the registry serves a newer build under the running container's image tag (1) or the same (0); only for containers whose image could be checked.",
  );
  const imageStatus = gauge(
    'lanscape_docker_container_image_update_status',
    'Image update check of running containers: the series of the current status has the value 1 (up_to_date, update_available, pinned and local are not checkable, unknown until a registry answered).',
  );
  const lastSuccess = gauge(
    'lanscape_docker_image_check_last_success_timestamp_seconds',
    'When an image update pass of the endpoint last got an answer for every image it checks.',
  );
  const failures = gauge(
    'lanscape_docker_image_check_failures_total',
    `Image lookups that failed, by reason (${CHECK_FAILURE_REASONS.join(', ')}).`,
    'counter',
  );

  async function refresh() {
    const counts = new Map<string, number>();
    for (const ep of docker.snapshot()) {
      up.set({ endpoint: ep.name }, ep.up ? 1 : 0);
      if (ep.images) {
        if (ep.images.lastSuccess !== null) lastSuccess.set({ endpoint: ep.name }, ep.images.lastSuccess / 1000);
        for (const [reason, n] of ep.images.failures) failures.set({ endpoint: ep.name, reason }, n);
      }
      counts.set(ep.name, 0);
      // While an endpoint is down its last snapshot stays: alerts on containers do not flap.
      for (const c of ep.containers) {
        const labels = { endpoint: ep.name, container: c.name };
        info.set(
          {
            ...labels,
            image: c.image,
            compose_project: c.compose_project ?? '',
            compose_service: c.compose_service ?? '',
          },
          1,
        );
        for (const s of CONTAINER_STATES) state.set({ ...labels, state: s }, s === c.state ? 1 : 0);
        for (const s of HEALTH_STATUSES) health.set({ ...labels, status: s }, s === c.health ? 1 : 0);
        restarts.set(labels, c.restart_count);
        if (c.started_at !== null) started.set(labels, c.started_at / 1000);
        const check = c.state === 'running' ? ep.images?.results.get(c.id) : undefined;
        if (check) {
          imageStatus.set({ ...labels, status: check.status }, 1);
          if (check.status === 'up_to_date' || check.status === 'update_available')
            updateAvailable.set(labels, check.status === 'update_available' ? 1 : 0);
        }
        const stats = c.state === 'running' ? ep.stats.get(c.id) : undefined;
        if (stats) {
          cpu.set(labels, stats.cpu_seconds);
          if (stats.memory_bytes !== null) memory.set(labels, stats.memory_bytes);
        }
      }
    }
    for (const o of await docker.conflicts()) {
      overlapInfo.set(
        { endpoint: o.endpoint, network: o.network, cidr: o.cidr, subnet: o.subnet, relation: o.relation },
        1,
      );
      counts.set(o.endpoint, (counts.get(o.endpoint) ?? 0) + 1);
    }
    for (const [endpoint, n] of counts) overlaps.set({ endpoint }, n);
  }
}
