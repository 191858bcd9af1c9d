// Nothing to configure: the data source reads through the Lanscape app's proxy, which holds the
// exporter's URL and tokens (set on the app's configuration page).
import React from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, TextLink } from '@grafana/ui';
import pluginJson from '../plugin.json';
import type { LanscapeOptions } from './types';

export function ConfigEditor(_props: DataSourcePluginOptionsEditorProps<LanscapeOptions>) {
  return (
    <Alert severity="info" title="No settings needed">
      This data source reads the Lanscape exporter through the Lanscape app, with your Grafana role. The exporter URL
      and tokens are set on the{' '}
      <TextLink href={`/plugins/${pluginJson.id}`} inline>
        Lanscape app configuration page
      </TextLink>
      . Save &amp; test checks that the exporter answers.
    </Alert>
  );
}
