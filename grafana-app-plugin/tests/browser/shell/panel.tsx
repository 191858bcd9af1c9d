// /d-solo/<anything>?panel=<panel id>&var-subnet=...: a dashboard panel the way Grafana renders
// one, for the app's nested plugins. The data source and the panel are found in the boot data
// (settings.datasources / settings.panels, their module under the app's path as Grafana serves
// nested plugins), their BUILT modules loaded through the AMD loader, the data source's query run
// (through the app's proxy route, with the signed-in user's role) and its frames handed to the
// panel's component. Marks: modulesLoaded, dataReady, rendered (after the panel's first paint).
import { config, locationService, setTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import {
  type DataQueryResponse,
  type DataSourceApi,
  type DataSourcePlugin,
  dateTime,
  EventBusSrv,
  LoadingState,
  type PanelData,
  type PanelPlugin,
} from '@grafana/data';
import { GlobalStyles, ThemeContext } from '@grafana/ui';
import React, { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { lastValueFrom, isObservable } from 'rxjs';
import { importAmd } from './amd';

interface Probe {
  ready: boolean;
  error?: string;
  marks: Record<string, number>;
  panel?: { series: number; errors: string[]; location: () => string };
}

interface BootMeta {
  module: string;
  id: string;
  type: string;
}

export async function bootPanel(container: HTMLElement, probe: Probe): Promise<void> {
  const params = new URLSearchParams(window.location.search);
  const settings = (
    window as unknown as {
      grafanaBootData: {
        settings: { datasources: Record<string, { type: string; meta: BootMeta }>; panels: Record<string, BootMeta> };
      };
    }
  ).grafanaBootData.settings;
  // Template variables from the URL (var-subnet=...), as a dashboard's would be.
  setTemplateSrv({
    replace: (text?: string) => (text ?? '').replace(/\$(\w+)/g, (m, name: string) => params.get(`var-${name}`) ?? m),
    getVariables: () => [],
    containsTemplate: (text?: string) => /\$\w+/.test(text ?? ''),
    updateTimeRange: () => {},
  } as unknown as TemplateSrv);
  const panelId = params.get('panel') ?? '';
  const panelMeta = settings.panels[panelId];
  const dsSettings = Object.values(settings.datasources).find(
    (d) => d.type === (params.get('datasource') ?? 'lanscape-ipam-datasource')
  );
  if (!panelMeta || !dsSettings) {
    throw new Error(`no panel ${panelId} or no data source in the boot data`);
  }
  const [dsExports, panelExports] = await Promise.all([
    importAmd(`/${dsSettings.meta.module}`),
    importAmd(`/${panelMeta.module}`),
  ]);
  probe.marks.modulesLoaded = performance.now();
  const dsPlugin = (dsExports as { plugin: DataSourcePlugin<DataSourceApi> }).plugin;
  const panelPlugin = (panelExports as { plugin: PanelPlugin }).plugin;
  const ds = new dsPlugin.DataSourceClass(dsSettings as never);
  const to = dateTime();
  const from = dateTime(to.valueOf() - 6 * 3600_000);
  const timeRange = { from, to, raw: { from: 'now-6h', to: 'now' } };
  const target = {
    refId: 'A',
    queryType: params.get('queryType') ?? 'addresses',
    subnet: params.get('subnet') ?? '$subnet',
  };
  const answer = ds.query({
    requestId: 'shell',
    interval: '1m',
    intervalMs: 60_000,
    range: timeRange,
    scopedVars: {},
    targets: [target],
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
  } as never);
  const response: DataQueryResponse = isObservable(answer) ? await lastValueFrom(answer) : await answer;
  probe.marks.dataReady = performance.now();
  const data: PanelData = {
    state: response.errors?.length ? LoadingState.Error : LoadingState.Done,
    series: response.data,
    errors: response.errors,
    timeRange,
  };
  probe.panel = {
    series: response.data.length,
    errors: (response.errors ?? []).map((e) => e.message ?? ''),
    location: () => `${locationService.getLocation().pathname}${locationService.getLocation().search}`,
  };
  const Panel = panelPlugin.panel!;
  // The panel's defaults, as its options builder declares them (the shell has no option editors registry).
  const options = { colorBy: params.get('colorBy') ?? 'state', showLegend: true };
  const width = Number(params.get('width') ?? 640);
  const height = Number(params.get('height') ?? 600);
  const theme = config.theme2;
  const Painted = () => {
    useEffect(() => {
      requestAnimationFrame(() => {
        probe.marks.rendered = performance.now();
        probe.ready = true;
      });
    }, []);
    return null;
  };
  createRoot(container).render(
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div
        style={{ padding: 16, background: theme.colors.background.canvas, display: 'inline-block' }}
        data-testid="shell-panel"
      >
        <div
          style={{
            background: theme.colors.background.primary,
            border: `1px solid ${theme.colors.border.weak}`,
            borderRadius: theme.shape.radius.default,
            padding: 8,
          }}
        >
          <div style={{ fontWeight: 500, padding: '0 0 8px' }}>{params.get('title') ?? 'Subnet map'}</div>
          <Panel
            id={1}
            data={data}
            timeRange={timeRange}
            timeZone="utc"
            options={options}
            fieldConfig={{ defaults: {}, overrides: [] }}
            transparent={false}
            width={width}
            height={height}
            renderCounter={0}
            title="Subnet map"
            eventBus={new EventBusSrv()}
            onOptionsChange={() => {}}
            onFieldConfigChange={() => {}}
            replaceVariables={(s: string) => s}
            onChangeTimeRange={() => {}}
          />
        </div>
      </div>
      <Painted />
    </ThemeContext.Provider>
  );
}
