/**
 * Reloads Grafana after the plugin settings changed: the plugin's meta (jsonData,
 * secureJsonFields) is read once at start. A function of its own so tests can replace it.
 */
export function reloadPage(): void {
  window.location.reload();
}
