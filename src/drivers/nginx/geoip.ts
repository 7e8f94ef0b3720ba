import { filePath } from './escape.js';
import type { RenderEnv } from './env.js';

/**
 * GeoIP through Debian's geoip2 module (libnginx-mod-http-geoip2): `$gh_country` (ISO code, "-" for
 * an address the database does not know) and `$gh_asn` (0 likewise) for the client address, which
 * is the connection's or, from a trusted proxy only, its X-Forwarded-For (real_ip runs first). The
 * gate's check reads them for rules' `country`, `country_not` and `asn`; the access log takes the
 * country. nginx looks at the files again every `checkSeconds` (setting geoip_check_interval) and
 * reads a changed one without a reload.
 */

export function geoipMain(env: RenderEnv): string[] {
  return env.geoip ? [`load_module ${filePath(env.modulesDir)}/ngx_http_geoip2_module.so;`] : [];
}

export function geoipHttp(env: RenderEnv): string[] {
  const g = env.geoip;
  if (!g) return [];
  const reload = `${g.checkSeconds ?? 60}s`;
  // nginx takes each file once: a database that holds both (a city one with ASNs) is one block.
  const files = new Map<string, string[]>();
  const add = (file: string | undefined, line: string) => {
    if (file) files.set(file, [...(files.get(file) ?? []), line]);
  };
  add(g.country, '    $gh_country default=- country iso_code;');
  add(g.asn, '    $gh_asn default=0 autonomous_system_number;');
  return [...files].flatMap(([file, vars]) => [
    `geoip2 ${filePath(file)} {`,
    `    auto_reload ${reload};`,
    ...vars,
    '}',
  ]);
}
