// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // ESM-only dependencies of @grafana/ui (d3 and friends) ship .mjs files: transform them too.
  transform: {
    ...base.transform,
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  // Page tests render whole @grafana/ui pages; on a shared 2-core CI machine under load one can
  // take longer than Jest's 5 s default without anything being wrong.
  testTimeout: 30000,
};
