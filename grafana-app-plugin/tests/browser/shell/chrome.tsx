// Stand-ins for the parts of Grafana's chrome a plugin page relies on: the page frame that
// @grafana/runtime's PluginPage renders inside Grafana (title, sub-title, info, actions, tabs),
// the app's section navigation built from plugin.json's includes (filtered by the user's role, as
// Grafana does), breadcrumbs, and the toast list that shows appEvents alerts.
import { css, cx } from '@emotion/css';
import { AppEvents, type GrafanaTheme2, type NavModel, type NavModelItem, type PluginInclude } from '@grafana/data';
import type { PluginPageProps } from '@grafana/runtime';
import { config, getAppEvents } from '@grafana/runtime';
import { Alert, Icon, Tab, TabsBar, useStyles2 } from '@grafana/ui';
import React, { createContext, useContext, useEffect, useState } from 'react';
import { Link, useLocation } from 'react-router-dom';

const ROLES = ['Viewer', 'Editor', 'Admin'];

export function roleAllows(have: string | undefined, need: string | undefined): boolean {
  return !need || ROLES.indexOf(have ?? 'Viewer') >= ROLES.indexOf(need);
}

export interface ChromeState {
  appName: string;
  appId: string;
  includes: PluginInclude[];
  /** The nav model the app last passed to onNavChanged (deprecated API, still honoured). */
  nav?: NavModel;
}

export const ChromeContext = createContext<ChromeState>({ appName: '', appId: '', includes: [] });

function navPages(state: ChromeState): PluginInclude[] {
  const role = config.bootData.user.orgRole;
  return state.includes.filter((i) => i.type === 'page' && i.addToNav && i.path && roleAllows(role, i.role));
}

function activeInclude(state: ChromeState, pathname: string): PluginInclude | undefined {
  const matches = navPages(state).filter((i) => pathname === i.path || pathname.startsWith(`${i.path}/`));
  return matches.sort((a, b) => (b.path?.length ?? 0) - (a.path?.length ?? 0))[0];
}

/** What Grafana's PluginPage renders: the page frame with the plugin's header props. */
export function ShellPluginPage(props: PluginPageProps) {
  const s = useStyles2(getStyles);
  const state = useContext(ChromeContext);
  const { pathname } = useLocation();
  const include = activeInclude(state, pathname);
  const node: NavModelItem | undefined = props.pageNav ?? state.nav?.node;
  const title = node?.text ?? include?.name ?? state.appName;
  const subTitle = props.subTitle ?? node?.subTitle;
  const tabs = (props.pageNav?.children ?? state.nav?.main?.children ?? []).filter((t) => !t.hideFromTabs);
  return (
    <div className={s.page} data-testid="shell-plugin-page">
      <div className={s.header}>
        <div className={s.titleRow}>
          <h1 className={s.title}>{props.renderTitle ? props.renderTitle(title) : title}</h1>
          {props.info && (
            <div className={s.info}>
              {props.info.map((i) => (
                <div key={i.label} className={s.infoItem}>
                  <span className={s.infoLabel}>{i.label}</span>
                  <span>{i.value}</span>
                </div>
              ))}
            </div>
          )}
          {props.actions && <div className={s.actions}>{props.actions}</div>}
        </div>
        {subTitle && <div className={s.subTitle}>{subTitle}</div>}
        {tabs.length > 0 && (
          <TabsBar className={s.tabs}>
            {tabs.map((t) => (
              <Tab key={t.id ?? t.text} label={t.text} active={t.active} href={t.url} onChangeTab={t.onClick} icon={t.icon} counter={t.tabCounter} />
            ))}
          </TabsBar>
        )}
      </div>
      <div className={s.contents}>{props.children}</div>
    </div>
  );
}

/** Top bar with breadcrumbs, the app's section nav, and the page. */
export function ShellChrome({ children, section }: { children: React.ReactNode; section: string }) {
  const s = useStyles2(getStyles);
  const state = useContext(ChromeContext);
  const { pathname } = useLocation();
  const include = activeInclude(state, pathname);
  const user = config.bootData.user;
  return (
    <div className={s.shell}>
      <header className={s.topBar} data-testid="shell-top-bar">
        <Icon name="grafana" size="lg" />
        <nav className={s.crumbs} aria-label="Breadcrumbs">
          <span>Home</span>
          <Icon name="angle-right" />
          <span>{section}</span>
          <Icon name="angle-right" />
          <span>{state.appName}</span>
          {include && include.path !== `/plugins/${state.appId}` && (
            <>
              <Icon name="angle-right" />
              <span>{include.name}</span>
            </>
          )}
        </nav>
        <span className={s.user} data-testid="shell-user">
          <Icon name="user" /> {user.login} ({user.orgRole})
        </span>
      </header>
      <div className={s.body}>
        <aside className={s.sideNav} aria-label="Section navigation">
          <div className={s.sideTitle}>{state.appName}</div>
          {navPages(state).map((i) => (
            <Link
              key={i.path}
              to={i.path!}
              className={cx(s.sideItem, include?.path === i.path && s.sideItemActive)}
              aria-current={include?.path === i.path ? 'page' : undefined}
            >
              {i.icon && <Icon name={i.icon as 'cog'} />} {i.name}
            </Link>
          ))}
        </aside>
        <main className={s.main}>{children}</main>
      </div>
      <Notifications />
    </div>
  );
}

interface Toast {
  id: number;
  severity: 'success' | 'error' | 'warning' | 'info';
  title: string;
  text?: string;
}

/** Grafana's AppNotificationList: appEvents alerts as toasts. */
function Notifications() {
  const s = useStyles2(getStyles);
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(() => {
    let next = 1;
    const add = (severity: Toast['severity']) => (payload: unknown) => {
      const [title, text] = Array.isArray(payload) ? payload : [String(payload)];
      const id = next++;
      const message = title instanceof Error ? title.message : String(title);
      setToasts((t) => [...t, { id, severity, title: message, text: text === undefined ? undefined : String(text) }]);
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), severity === 'error' ? 7000 : 3000);
    };
    const bus = getAppEvents();
    const subs = [
      bus.subscribe({ type: AppEvents.alertSuccess.name } as never, (e: { payload?: unknown }) => add('success')(e.payload)),
      bus.subscribe({ type: AppEvents.alertError.name } as never, (e: { payload?: unknown }) => add('error')(e.payload)),
      bus.subscribe({ type: AppEvents.alertWarning.name } as never, (e: { payload?: unknown }) => add('warning')(e.payload)),
    ];
    return () => subs.forEach((x) => x.unsubscribe());
  }, []);
  return (
    <div className={s.toasts} data-testid="shell-notifications">
      {toasts.map((t) => (
        <Alert key={t.id} severity={t.severity} title={t.title} onRemove={() => setToasts((all) => all.filter((x) => x.id !== t.id))}>
          {t.text}
        </Alert>
      ))}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  shell: css({ minHeight: '100vh', display: 'flex', flexDirection: 'column', background: theme.colors.background.canvas }),
  topBar: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(2),
    height: 40,
    padding: theme.spacing(0, 2),
    background: theme.colors.background.primary,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
  }),
  crumbs: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(0.5), color: theme.colors.text.secondary, flex: 1 }),
  user: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  body: css({ display: 'flex', flex: 1, minHeight: 0 }),
  sideNav: css({
    width: 200,
    flexShrink: 0,
    padding: theme.spacing(2, 1),
    background: theme.colors.background.primary,
    borderRight: `1px solid ${theme.colors.border.weak}`,
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(0.5),
  }),
  sideTitle: css({ fontSize: theme.typography.h5.fontSize, padding: theme.spacing(0, 1, 1) }),
  sideItem: css({
    padding: theme.spacing(0.5, 1),
    borderRadius: theme.shape.radius.default,
    color: theme.colors.text.secondary,
    '&:hover': { background: theme.colors.action.hover, color: theme.colors.text.primary },
  }),
  sideItemActive: css({ background: theme.colors.action.selected, color: theme.colors.text.primary, fontWeight: theme.typography.fontWeightMedium }),
  main: css({ flex: 1, minWidth: 0, padding: theme.spacing(2, 3) }),
  page: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  header: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  titleRow: css({ display: 'flex', alignItems: 'center', flexWrap: 'wrap', gap: theme.spacing(2) }),
  title: css({ margin: 0, fontSize: theme.typography.h2.fontSize }),
  info: css({ display: 'flex', gap: theme.spacing(2) }),
  infoItem: css({ display: 'flex', flexDirection: 'column', fontSize: theme.typography.bodySmall.fontSize }),
  infoLabel: css({ color: theme.colors.text.secondary }),
  actions: css({ display: 'flex', gap: theme.spacing(1), marginLeft: 'auto' }),
  subTitle: css({ color: theme.colors.text.secondary }),
  tabs: css({ marginTop: theme.spacing(1) }),
  contents: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  toasts: css({ position: 'fixed', top: 48, right: 16, width: 420, zIndex: theme.zIndex.portal, display: 'flex', flexDirection: 'column', gap: 8 }),
});
