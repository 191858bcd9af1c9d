// Extends create-plugin's webpack config (.config/ is scaffolded: never edit it, see
// .config/README.md "Extending the Webpack config"). Two additions: the Grafana dashboards,
// whose single source is dashboards/ at the repository root, are copied into dist/dashboards/,
// where plugin.json's `includes` (type "dashboard", path "dashboards/<file>.json") find them; and
// the logos of the nested plugins (src/datasource, src/panels/*: the base config builds their
// module.js and copies their plugin.json, but copies only the app's own logo).
import CopyWebpackPlugin from 'copy-webpack-plugin';
import path from 'path';
import type { Configuration } from 'webpack';

import grafanaConfig, { type Env } from './.config/webpack/webpack.config.ts';

// The scripts run from grafana-app-plugin/, as the base config assumes (process.cwd()).
const DASHBOARDS_DIR = path.resolve(process.cwd(), '..', 'dashboards');
const SOURCE_DIR = path.resolve(process.cwd(), 'src');

const config = async (env: Env): Promise<Configuration> => {
  const baseConfig = await grafanaConfig(env);
  const cache = baseConfig.cache;
  return {
    ...baseConfig,
    // This file is a build dependency too: editing it invalidates webpack's filesystem cache.
    cache:
      cache && typeof cache === 'object' && cache.type === 'filesystem'
        ? {
            ...cache,
            buildDependencies: {
              ...cache.buildDependencies,
              config: [...(cache.buildDependencies?.config ?? []), path.resolve(process.cwd(), 'webpack.config.ts')],
            },
          }
        : cache,
    plugins: [
      ...(baseConfig.plugins ?? []),
      new CopyWebpackPlugin({
        patterns: [
          { from: '*.json', context: DASHBOARDS_DIR, to: 'dashboards/[name][ext]' },
          { from: '{datasource,panels/*}/img/*.svg', context: SOURCE_DIR, to: '[path][name][ext]' },
        ],
      }),
    ],
  };
};

export default config;
