// The Lanscape data source, a plugin nested in the Lanscape app (built by create-plugin's webpack
// config as datasource/module.js). Grafana loads this module only when a dashboard or Explore
// uses the data source, so none of it weighs on the app's own pages.
import { DataSourcePlugin } from '@grafana/data';
import { ConfigEditor } from './ConfigEditor';
import { LanscapeDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import type { LanscapeOptions, LanscapeQuery } from './types';

export const plugin = new DataSourcePlugin<LanscapeDataSource, LanscapeQuery, LanscapeOptions>(LanscapeDataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
