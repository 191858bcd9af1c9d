// Configuration: where the exporter is and the three tokens the proxy routes send (read, write,
// admin). Tokens are stored by Grafana encrypted (secureJsonData) and never come back to the
// browser; only whether each is set (secureJsonFields).
import React, { useState } from 'react';
import { lastValueFrom } from 'rxjs';
import { css } from '@emotion/css';
import { type AppPluginMeta, type GrafanaTheme2, type PluginConfigPageProps, type PluginMeta } from '@grafana/data';
import { getBackendSrv, isFetchError } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, Icon, Input, SecretInput, Stack, Text, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../api/client';
import type { ExporterInfo } from '../../api/types';
import { reloadPage } from '../../utils/reload';
import { testIds } from '../testIds';

export type AppPluginSettings = {
  exporterUrl?: string;
  [key: string]: unknown;
};

export interface AppConfigProps extends PluginConfigPageProps<AppPluginMeta<AppPluginSettings>> {}

type TokenName = 'readToken' | 'writeToken' | 'adminToken';
const TOKENS: Array<{ name: TokenName; label: string; description: string; testId: string }> = [
  {
    name: 'readToken',
    label: 'Read token',
    description: 'Sent on GET requests (Viewers and up): pages, tables, history.',
    testId: testIds.appConfig.readToken,
  },
  {
    name: 'writeToken',
    label: 'Write token',
    description: 'Sent on changes (Editors and up): reserve, edit, release, scans, imports.',
    testId: testIds.appConfig.writeToken,
  },
  {
    name: 'adminToken',
    label: 'Admin token',
    description: 'Sent on admin requests (Admins): settings and VM creation.',
    testId: testIds.appConfig.adminToken,
  },
];

interface TokenState {
  value: string;
  configured: boolean;
}

/** Problems with the URL that the proxy would only report as a failed request. */
export function exporterUrlProblem(url: string): string | undefined {
  if (!url.trim()) {
    return 'The exporter URL is required, for example http://lanscape:9645';
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return 'Not a URL: give the scheme and host, for example http://lanscape:9645';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return 'Use an http:// or https:// URL';
  }
  if (/\/api\/v1\/?$/.test(parsed.pathname)) {
    return 'Leave out /api/v1: the plugin adds it';
  }
  return undefined;
}

const AppConfig = ({ plugin }: AppConfigProps) => {
  const styles = useStyles2(getStyles);
  const { enabled, pinned, jsonData, secureJsonFields } = plugin.meta;
  const savedUrl = typeof jsonData?.exporterUrl === 'string' ? jsonData.exporterUrl : '';
  const [exporterUrl, setExporterUrl] = useState(savedUrl);
  const [tokens, setTokens] = useState<Record<TokenName, TokenState>>(() => ({
    readToken: { value: '', configured: Boolean(secureJsonFields?.readToken) },
    writeToken: { value: '', configured: Boolean(secureJsonFields?.writeToken) },
    adminToken: { value: '', configured: Boolean(secureJsonFields?.adminToken) },
  }));
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string>();
  const [testing, setTesting] = useState(false);
  const [info, setInfo] = useState<ExporterInfo>();
  const [testError, setTestError] = useState<ApiError>();

  const urlProblem = exporterUrlProblem(exporterUrl);
  const dirty =
    exporterUrl.trim() !== savedUrl ||
    TOKENS.some(
      ({ name }) => tokens[name].value !== '' || tokens[name].configured !== Boolean(secureJsonFields?.[name])
    );

  const setToken = (name: TokenName, state: Partial<TokenState>) =>
    setTokens((t) => ({ ...t, [name]: { ...t[name], ...state } }));

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    if (urlProblem) {
      return;
    }
    const secureJsonData: Record<string, string> = {};
    for (const { name } of TOKENS) {
      const t = tokens[name];
      if (t.value) {
        secureJsonData[name] = t.value;
      } else if (!t.configured && secureJsonFields?.[name]) {
        secureJsonData[name] = ''; // reset and left empty: clear it
      }
    }
    setSaving(true);
    setSaveError(undefined);
    try {
      await updatePlugin(plugin.meta.id, {
        enabled,
        pinned,
        // Keep what this page does not edit (provisioned fields) and change only the URL.
        jsonData: { ...(jsonData ?? {}), exporterUrl: exporterUrl.trim().replace(/\/+$/, '') },
        secureJsonData: Object.keys(secureJsonData).length > 0 ? secureJsonData : undefined,
      });
      reloadPage();
    } catch (err) {
      setSaveError(isFetchError(err) ? (err.data?.message ?? err.statusText ?? `HTTP ${err.status}`) : String(err));
    } finally {
      setSaving(false);
    }
  };

  const test = async () => {
    setTesting(true);
    setInfo(undefined);
    setTestError(undefined);
    try {
      setInfo(await api.info());
    } catch (err) {
      setTestError(toApiError(err));
    } finally {
      setTesting(false);
    }
  };

  return (
    <form onSubmit={save} data-testid={testIds.appConfig.container} className={styles.form}>
      <FieldSet label="Exporter">
        <Field
          label="Exporter URL"
          description="Where Grafana's server reaches the Lanscape exporter (the browser never calls it directly)."
          invalid={exporterUrl !== '' && !!urlProblem}
          error={exporterUrl !== '' ? urlProblem : undefined}
        >
          <Input
            width={60}
            id="config-exporter-url"
            value={exporterUrl}
            placeholder="http://lanscape:9645"
            onChange={(e) => setExporterUrl(e.currentTarget.value)}
            data-testid={testIds.appConfig.exporterUrl}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Tokens">
        <div className={styles.intro}>
          <Text color="secondary" variant="bodySmall" element="p">
            The exporter’s bearer tokens (LANSCAPE_READ_TOKEN, _WRITE_TOKEN, _ADMIN_TOKEN or named tokens). Grafana
            stores them encrypted and adds them to proxied requests by the user’s role.
          </Text>
        </div>
        {TOKENS.map(({ name, label, description, testId }) => (
          <Field key={name} label={label} description={description}>
            <SecretInput
              width={60}
              id={`config-${name}`}
              value={tokens[name].value}
              isConfigured={tokens[name].configured}
              placeholder={tokens[name].configured ? '' : `Paste the ${label.toLowerCase()}`}
              onChange={(e) => setToken(name, { value: e.currentTarget.value.trim() })}
              onReset={() => setToken(name, { value: '', configured: false })}
              data-testid={testId}
              aria-label={label}
            />
          </Field>
        ))}
      </FieldSet>

      {saveError && (
        <Alert severity="error" title="The settings were not saved">
          {saveError}
        </Alert>
      )}

      <Stack gap={1} alignItems="center">
        <Button
          type="submit"
          disabled={saving || !!urlProblem || !dirty}
          data-testid={testIds.appConfig.save}
          icon={saving ? 'spinner' : undefined}
        >
          Save settings
        </Button>
        <Button
          type="button"
          variant="secondary"
          onClick={test}
          disabled={testing}
          data-testid={testIds.appConfig.testConnection}
          icon={testing ? 'spinner' : 'heart-rate'}
        >
          Test connection
        </Button>
        {dirty && (
          <Text variant="bodySmall" color="secondary">
            The test uses the saved settings: save first.
          </Text>
        )}
      </Stack>

      <div data-testid={testIds.appConfig.testResult} className={styles.result} aria-live="polite">
        {testError && (
          <Alert severity="error" title={`Connection failed${testError.status ? ` (HTTP ${testError.status})` : ''}`}>
            {explain(testError)}
          </Alert>
        )}
        {info && (
          <Alert
            severity={Object.values(info.collectors).every((c) => c.up) ? 'success' : 'warning'}
            title={`Connected to Lanscape exporter ${info.version}`}
          >
            <Stack direction="column" gap={0.5}>
              <Text variant="bodySmall" color="secondary">
                Store schema version {info.schema_version}
              </Text>
              <ul className={styles.collectors}>
                {Object.entries(info.collectors).map(([collector, c]) => (
                  <li key={collector} data-testid={testIds.appConfig.collector(collector)} data-up={c.up}>
                    <Icon
                      name={c.up ? 'check-circle' : 'times-circle'}
                      className={c.up ? styles.up : styles.down}
                      aria-hidden
                    />
                    <strong>{collector}</strong> {c.up ? 'working' : 'not working'}
                    {c.message && <span className={styles.message}> · {c.message}</span>}
                  </li>
                ))}
              </ul>
            </Stack>
          </Alert>
        )}
      </div>
    </form>
  );
};

export default AppConfig;

const getStyles = (theme: GrafanaTheme2) => ({
  form: css({
    maxWidth: 800,
  }),
  result: css({
    marginTop: theme.spacing(2),
  }),
  intro: css({
    marginBottom: theme.spacing(2),
  }),
  collectors: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    li: {
      display: 'flex',
      alignItems: 'center',
      gap: theme.spacing(0.75),
      padding: theme.spacing(0.25, 0),
    },
  }),
  up: css({
    color: theme.colors.success.text,
  }),
  down: css({
    color: theme.colors.error.text,
  }),
  message: css({
    color: theme.colors.text.secondary,
  }),
});

const updatePlugin = async (pluginId: string, data: Partial<PluginMeta<AppPluginSettings>>) => {
  const response = getBackendSrv().fetch({
    url: `/api/plugins/${pluginId}/settings`,
    method: 'POST',
    data,
    showSuccessAlert: false,
    showErrorAlert: false,
  });
  return lastValueFrom(response);
};
