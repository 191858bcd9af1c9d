// The browser-test shell: a stand-in for Grafana's frontend that loads the plugin's BUILT
// dist/module.js the way Grafana does. It shares the real react, react-dom, react-router, rxjs,
// @emotion/css, lodash, @grafana/data|ui|runtime ... instances with the plugin through an AMD
// registry (Grafana: SystemJS with its shared-dependency map), wires up @grafana/runtime's
// services as Grafana's app.ts does before any plugin loads, then mounts AppPlugin.root under
// /a/<id>/* and the plugin's config pages under /plugins/<id>.
// The boot data (user, role, theme) is rendered into the HTML by the server, as Grafana does.
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import {
  AppPlugin,
  EventBusSrv,
  type AppPluginMeta,
  type KeyValue,
  type NavModel,
  PluginContextProvider,
  type PluginMeta,
  urlUtil,
} from '@grafana/data';
import * as grafanaI18n from '@grafana/i18n';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaRuntimeUnstable from '@grafana/runtime/unstable';
import {
  config,
  locationService,
  setAppEvents,
  setBackendSrv,
  setChromeHeaderHeightHook,
  setEchoSrv,
  setLocationSrv,
  setPluginComponentHook,
  setPluginComponentsHook,
  setPluginFunctionsHook,
  setPluginLinksHook,
  setReturnToPreviousHook,
  type BackendSrv,
  type EchoSrv,
} from '@grafana/runtime';
import * as grafanaUi from '@grafana/ui';
import * as grafanaUiUnstable from '@grafana/ui/unstable';
import { ErrorBoundaryAlert, GlobalStyles, LoadingPlaceholder, ThemeContext, Tab, TabsBar } from '@grafana/ui';
import i18next from 'i18next';
import jquery from 'jquery';
import lodash from 'lodash';
import moment from 'moment';
// @ts-ignore -- prismjs ships no type declarations here; only its module object is shared
import prismjs from 'prismjs';
import React, { useEffect, useLayoutEffect, useMemo, useState } from 'react';
import * as jsxDevRuntime from 'react/jsx-dev-runtime';
import * as jsxRuntime from 'react/jsx-runtime';
import ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as reactRedux from 'react-redux';
import * as reactRouter from 'react-router';
import * as reactRouterDom from 'react-router-dom';
import { Route, Router, Routes, useLocation, useParams } from 'react-router-dom';
import * as redux from 'redux';
import * as rxjs from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';
// setPluginPage is @internal to Grafana (not in the package's public index): reach the same module
// file the index re-exports, so it is the very binding PluginPage reads.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- no type declarations for the .mjs path
import { setPluginPage } from '../../../../node_modules/@grafana/runtime/dist/esm/components/PluginPage.mjs';
import { importAmd, share, sharedNames } from './amd';
import { requestLog, ShellBackendSrv } from './backendSrv';
import { ChromeContext, ShellChrome, ShellPluginPage, type ChromeState } from './chrome';
import { bootPanel } from './panel';

// ---- the shared dependencies (Grafana: public/app/features/plugins/loader/sharedDependencies.ts)
const sharedModules: Record<string, unknown> = {
  '@emotion/css': emotionCss,
  '@emotion/react': emotionReact,
  '@grafana/data': grafanaData,
  '@grafana/i18n': grafanaI18n,
  '@grafana/runtime': grafanaRuntime,
  '@grafana/runtime/unstable': grafanaRuntimeUnstable,
  '@grafana/ui': grafanaUi,
  '@grafana/ui/unstable': grafanaUiUnstable,
  i18next,
  jquery,
  lodash,
  moment,
  prismjs,
  react: React,
  'react/jsx-runtime': jsxRuntime,
  'react/jsx-dev-runtime': jsxDevRuntime,
  'react-dom': ReactDOM,
  'react-redux': reactRedux,
  'react-router': reactRouter,
  'react-router-dom': reactRouterDom,
  redux,
  rxjs,
  'rxjs/operators': rxjsOperators,
};
for (const [name, value] of Object.entries(sharedModules)) {
  share(name, value);
}

// ---- what Grafana's app.ts sets up before loading plugins
const backendSrv = new ShellBackendSrv();
setBackendSrv(backendSrv as unknown as BackendSrv);
const appEvents = new EventBusSrv();
setAppEvents(appEvents);
setLocationSrv(locationService);
const echoEvents: unknown[] = [];
setEchoSrv({
  addBackend: () => {},
  addEvent: (event: unknown) => echoEvents.push(event),
  flush: () => {},
  logDebug: () => {},
  isProfilingEnabled: () => false,
} as unknown as EchoSrv);
setPluginPage(ShellPluginPage);
setReturnToPreviousHook(() => () => {});
setChromeHeaderHeightHook(() => 40);
setPluginLinksHook(() => ({ links: [], isLoading: false }));
setPluginComponentsHook(() => ({ components: [], isLoading: false }));
setPluginComponentHook(() => ({ component: null, isLoading: false }));
setPluginFunctionsHook(() => ({ functions: [], isLoading: false }));

const PLUGIN_ID = (window as unknown as { __shellPluginId: string }).__shellPluginId;

interface ShellProbe {
  ready: boolean;
  error?: string;
  shared: string[];
  requests: typeof requestLog;
  echoEvents: unknown[];
  navs: NavModel[];
  marks: Record<string, number>;
}
const probe: ShellProbe = { ready: false, shared: sharedNames(), requests: requestLog, echoEvents, navs: [], marks: {} };
(window as unknown as { __shell: ShellProbe }).__shell = probe;

// ---- the router: driven by locationService's history, as Grafana's is, so that
// locationService.push() from the plugin and <Link>s inside it move the same router.
function GrafanaRouter({ children }: { children: React.ReactNode }) {
  const history = locationService.getHistory();
  const [state, setState] = useState({ location: history.location, action: history.action });
  useLayoutEffect(
    () => history.listen((location: typeof history.location, action: typeof history.action) => setState({ location, action })),
    [history]
  );
  return (
    <Router location={state.location} navigationType={state.action as never} navigator={history as never}>
      {children}
    </Router>
  );
}

// ---- /a/<id>/*: Grafana's AppRootPage
function AppRootPage({ plugin }: { plugin: AppPlugin }) {
  const location = useLocation();
  const [nav, setNav] = useState<NavModel | undefined>();
  const query = useMemo(() => urlUtil.getUrlSearchParams() as KeyValue, [location.search]); // eslint-disable-line react-hooks/exhaustive-deps
  const chrome: ChromeState = { appName: plugin.meta.name, appId: plugin.meta.id, includes: plugin.meta.includes ?? [], nav };
  const Root = plugin.root;
  if (!Root) {
    return <div data-testid="shell-error">App plugin {plugin.meta.id} has no root page</div>;
  }
  return (
    <ChromeContext.Provider value={chrome}>
      <ShellChrome section="Apps">
        <PluginContextProvider meta={plugin.meta}>
          <ErrorBoundaryAlert title={`${plugin.meta.name} failed`} style="page">
            <Root
              meta={plugin.meta as AppPluginMeta}
              basename={`/a/${plugin.meta.id}`}
              onNavChanged={(n: NavModel) => {
                probe.navs.push(n);
                setNav(n);
              }}
              query={query}
              path={location.pathname}
            />
          </ErrorBoundaryAlert>
        </PluginContextProvider>
      </ShellChrome>
    </ChromeContext.Provider>
  );
}

// ---- /plugins/<id>: Grafana's plugin details page with the app's config pages as tabs
function PluginConfigPage({ plugin }: { plugin: AppPlugin }) {
  const location = useLocation();
  const query = urlUtil.getUrlSearchParams() as KeyValue;
  const pages = plugin.configPages ?? [];
  const active = pages.find((p) => p.id === query.page) ?? pages[0];
  const chrome: ChromeState = { appName: plugin.meta.name, appId: plugin.meta.id, includes: plugin.meta.includes ?? [] };
  return (
    <ChromeContext.Provider value={chrome}>
      <ShellChrome section="Administration › Plugins">
        <div data-testid="shell-plugin-details">
          <h1 style={{ marginBottom: 8 }}>{plugin.meta.name}</h1>
          <p style={{ opacity: 0.75 }}>{plugin.meta.info?.description}</p>
          <TabsBar>
            {pages.map((p) => (
              <Tab
                key={p.id}
                label={p.title}
                icon={p.icon}
                active={p === active}
                href={`${location.pathname}?page=${encodeURIComponent(p.id)}`}
              />
            ))}
          </TabsBar>
          <div style={{ paddingTop: 16 }}>
            {active ? (
              <PluginContextProvider meta={plugin.meta}>
                <ErrorBoundaryAlert title={`${plugin.meta.name} configuration failed`} style="page">
                  <active.body plugin={plugin} query={query} />
                </ErrorBoundaryAlert>
              </PluginContextProvider>
            ) : (
              <div data-testid="shell-no-config-pages">This app has no configuration pages.</div>
            )}
          </div>
        </div>
      </ShellChrome>
    </ChromeContext.Provider>
  );
}

function PluginRoute({ plugin, kind }: { plugin: AppPlugin; kind: 'app' | 'config' }) {
  const { pluginId } = useParams();
  if (pluginId !== plugin.meta.id) {
    return <div data-testid="shell-error">No app plugin {pluginId}</div>;
  }
  return kind === 'app' ? <AppRootPage plugin={plugin} /> : <PluginConfigPage plugin={plugin} />;
}

function Marker() {
  useEffect(() => {
    probe.ready = true;
    probe.marks.mounted = performance.now();
  }, []);
  return null;
}

function Shell({ plugin }: { plugin: AppPlugin }) {
  return (
    <ThemeContext.Provider value={config.theme2}>
      <GlobalStyles />
      <GrafanaRouter>
        <Marker />
        <React.Suspense fallback={<LoadingPlaceholder text="Loading..." />}>
          <Routes>
            <Route path="/a/:pluginId/*" element={<PluginRoute plugin={plugin} kind="app" />} />
            <Route path="/plugins/:pluginId" element={<PluginRoute plugin={plugin} kind="config" />} />
            <Route path="*" element={<div data-testid="shell-error">Not a plugin page</div>} />
          </Routes>
        </React.Suspense>
      </GrafanaRouter>
    </ThemeContext.Provider>
  );
}

// ---- Grafana's importAppPlugin(meta)
async function boot(): Promise<void> {
  const container = document.getElementById('reactRoot')!;
  try {
    probe.marks.bootStart = performance.now();
    const meta = await backendSrv.get<PluginMeta>(`/api/plugins/${PLUGIN_ID}/settings`);
    const exports = (await importAmd(`/${meta.module}`)) as { plugin?: AppPlugin };
    probe.marks.moduleLoaded = performance.now();
    const plugin = exports.plugin ?? new AppPlugin();
    if (!(plugin instanceof AppPlugin)) {
      throw new Error(`module.js exported "plugin" that is not an AppPlugin from the shared @grafana/data`);
    }
    plugin.init(meta as AppPluginMeta);
    plugin.meta = meta as AppPluginMeta;
    plugin.setComponentsFromLegacyExports(exports as never);
    createRoot(container).render(<Shell plugin={plugin} />);
  } catch (e) {
    probe.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    container.innerHTML = '';
    const pre = document.createElement('pre');
    pre.setAttribute('data-testid', 'shell-boot-error');
    pre.textContent = `The plugin failed to load: ${probe.error}`;
    container.appendChild(pre);
    throw e;
  }
}

// /d-solo/...: one dashboard panel of a nested plugin (shell/panel.tsx); anything else: the app.
if (window.location.pathname.startsWith('/d-solo/')) {
  bootPanel(document.getElementById('reactRoot')!, probe).catch((e: unknown) => {
    probe.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  });
} else {
  void boot();
}
