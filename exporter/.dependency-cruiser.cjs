// The exporter's import rules, checked by `npm run lint` (dependency-cruiser, see ARCHITECTURE.md):
//   npx depcruise src                      (in exporter/) every rule; exits non-zero on a violation
//   npx depcruise src --output-type dot    the import graph, for `dot -Tsvg`
// Type-only imports count: a cycle through types is still a cycle in the module map.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules form a tree of layers: no module reaches itself through its imports (types included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'config-imports-no-domain',
      severity: 'error',
      comment: 'config/ describes settings; shared formats live in shared/, not in a domain.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|shared)/' },
    },
    {
      name: 'shared-imports-no-domain',
      severity: 'error',
      comment: 'shared/ is below every domain: it may use pure core/ code (the IP parser), nothing else.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/(shared/|[^/]+/core/)' },
    },
    {
      name: 'core-imports-no-adapters',
      severity: 'error',
      comment:
        'A core/ module is pure: it imports other core/ modules, shared/ and errors.ts, never a store, service or adapter.',
      from: { path: '^src/[^/]+/core/' },
      to: { path: '^src/', pathNot: '^src/([^/]+/core/|shared/|errors\\.ts$)' },
    },
    {
      name: 'store-belongs-to-its-domain',
      severity: 'error',
      comment:
        "A domain's store.ts is used by its own domain (and server.ts wiring); other domains go through its service. Row types may be imported.",
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/store\\.ts$', pathNot: '^src/($1|store)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
