// HTTP adapter of sites and agents (#15): registering, listing and revoking agents (admin/read),
// the two routes an agent token may use (its assignments, its results), and http_sd of the
// agents' own /metrics for Prometheus.
import type { ApiRoutes } from '../http/routes.js';
import { IdParams, listed } from '../http/schema-kit.js';
import { LanscapeError } from '../errors.js';
import {
  Agent,
  AgentCreate,
  AgentCreated,
  AgentList,
  AgentSd,
  Assignments,
  AssignmentsQuery,
  BatchOutcome,
  ResultBatch,
} from './schemas.js';
import type { AgentIdentity, AgentService } from './service.js';

export function registerAgentRoutes(api: ApiRoutes, agents: AgentService): void {
  const agentOf = (res: { locals: Record<string, unknown> }): AgentIdentity => {
    const agent = (res.locals.identity as { agent?: AgentIdentity } | undefined)?.agent;
    if (!agent) throw new LanscapeError(403, 'forbidden', 'this needs an agent token');
    return agent;
  };
  api.add({
    method: 'post',
    path: '/agents',
    scope: 'admin',
    tag: 'agents',
    summary: 'Register a remote scan agent',
    description:
      'Answers the agent token once (scope agent: it may only read its assignments and post results for the subnets assigned to it); only its hash is stored.',
    body: AgentCreate,
    responses: {
      201: { description: 'Registered; the token is shown only here', schema: AgentCreated },
      409: { description: 'An agent of that name exists' },
    },
    handler: async ({ body }) => ({ status: 201, body: await agents.create(body.name) }),
  });
  api.add({
    method: 'get',
    path: '/agents',
    scope: 'read',
    tag: 'agents',
    summary: 'Agents with their health, queue and assigned subnets',
    responses: { 200: { description: 'Agents', schema: AgentList } },
    handler: async () => ({ status: 200, body: listed(await agents.list()) }),
  });
  api.add({
    method: 'get',
    path: '/agents/{id}',
    scope: 'read',
    tag: 'agents',
    summary: 'One agent',
    params: IdParams,
    responses: { 200: { description: 'The agent', schema: Agent }, 404: { description: 'No such agent' } },
    handler: async ({ params }) => ({ status: 200, body: await agents.get(params.id) }),
  });
  api.add({
    method: 'delete',
    path: '/agents/{id}',
    scope: 'admin',
    tag: 'agents',
    summary: 'Revoke an agent',
    description:
      'Its token is refused (401) from now on; its subnets stay assigned to it (and unswept) until reassigned.',
    params: IdParams,
    responses: { 204: { description: 'Revoked' }, 404: { description: 'No such agent' } },
    handler: async ({ params }) => {
      await agents.revoke(params.id);
      return { status: 204 };
    },
  });
  api.add({
    method: 'get',
    path: '/agent/assignments',
    scope: 'agent',
    tag: 'agents',
    summary: "The calling agent's subnets and scan settings (its heartbeat)",
    query: AssignmentsQuery,
    responses: { 200: { description: 'Assignments', schema: Assignments } },
    handler: async ({ query, res }) => ({ status: 200, body: await agents.assignments(agentOf(res), query) }),
  });
  api.add({
    method: 'post',
    path: '/agent/results',
    scope: 'agent',
    tag: 'agents',
    summary: 'Post the results of one sweep (applied at most once per batch_id)',
    description:
      'Applied exactly as a sweep of this exporter (history, events, conflicts, metrics, http_sd), in one transaction with the batch id: a replayed batch answers applied false, duplicate true and changes nothing.',
    body: ResultBatch,
    responses: {
      200: { description: 'Applied, or a duplicate of an applied batch', schema: BatchOutcome },
      403: { description: 'The subnet is not assigned to this agent; nothing applied' },
      422: { description: 'An address outside the subnet (or another bad value); nothing applied' },
    },
    handler: async ({ body, res }) => ({ status: 200, body: await agents.ingest(agentOf(res), body) }),
  });
  api.add({
    method: 'get',
    path: '/sd/agents',
    scope: 'read',
    tag: 'agents',
    summary: "Prometheus http_sd of the agents' own /metrics",
    description:
      'One target group per agent that is not revoked and reported a metrics_url; labels __scheme__, __metrics_path__ and __meta_lanscape_agent.',
    responses: { 200: { description: 'Target groups', schema: AgentSd } },
    handler: async () => {
      const groups = [];
      for (const a of await agents.list()) {
        if (a.status === 'revoked' || !a.metrics_url) continue;
        const u = new URL(a.metrics_url);
        groups.push({
          targets: [u.host],
          labels: {
            __scheme__: u.protocol.replace(':', ''),
            __metrics_path__: u.pathname,
            __meta_lanscape_agent: a.name,
          },
        });
      }
      return { status: 200, body: groups };
    },
  });
}
