import type { Settings } from '../model/settings.js';

/** What the commands printed for edges and sites say for `--control` while `control_url` is unset. */
export const CONTROL_PLACEHOLDER = "<this API's URL>";

/** `control_url` (without a trailing slash), else the placeholder. */
export function controlUrlOf(settings: Pick<Settings, 'control_url'>): string {
  return settings.control_url ? settings.control_url.replace(/\/+$/, '') : CONTROL_PLACEHOLDER;
}
