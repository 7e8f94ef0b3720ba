import type { EdgeConfig } from '../compile/edge-config.js';
import type { EdgeFeedBody } from './feed.js';

/**
 * The feed's body as JSON, made from parts kept between bodies: compile hands back the same site
 * and pool objects for services that did not change, so at 10,000 routes a body serializes only
 * what changed, and every node long-polling the same config shares its text.
 */
const parts = new WeakMap<object, string>();

function json(o: object): string {
  let s = parts.get(o);
  if (s === undefined) {
    s = JSON.stringify(o);
    parts.set(o, s);
  }
  return s;
}

export function configJson(config: EdgeConfig): string {
  let s = parts.get(config);
  if (s !== undefined) return s;
  const { sites, pools, ...rest } = config;
  // `rest` always has keys (schema, hash, ...): its object is "{...}", closed again after the lists.
  s = `${JSON.stringify(rest).slice(0, -1)},"sites":[${sites.map(json).join(',')}],"pools":[${pools.map(json).join(',')}]}`;
  parts.set(config, s);
  return s;
}

/** The same text JSON.stringify(body) parses back to (key order aside). */
export function feedBodyJson(body: EdgeFeedBody): string {
  const { config, ...rest } = body;
  return `${JSON.stringify(rest).slice(0, -1)},"config":${configJson(config)}}`;
}
