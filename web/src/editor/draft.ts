import { createContext, useContext } from 'react';
import type { FieldIssue } from '../../../src/api/views';

/** A service being edited: plain JSON, as the API takes and gives it. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Dotted paths, as the API names fields: `routes.0.upstreams.1`. */
function keys(path: string): string[] {
  return path === '' ? [] : path.split('.');
}

export function getAt(root: Json, path: string): Json | undefined {
  let cur: Json | undefined = root;
  for (const k of keys(path)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(k)] : cur[k];
  }
  return cur;
}

/**
 * A copy of `root` with `value` at `path` (missing objects on the way are made); `undefined`
 * removes the key (or the array item).
 */
export function setAt(root: Json, path: string, value: Json | undefined): Json {
  const [head, ...rest] = keys(path);
  if (head === undefined) return value ?? null;
  const tail = rest.join('.');
  if (Array.isArray(root)) {
    const i = Number(head);
    const copy = [...root];
    if (rest.length === 0 && value === undefined) copy.splice(i, 1);
    else copy[i] = setAt(copy[i] ?? {}, tail, value);
    return copy;
  }
  const obj: JsonObject = root !== null && typeof root === 'object' ? { ...root } : {};
  if (rest.length === 0 && value === undefined) delete obj[head];
  else obj[head] = setAt(obj[head] ?? (/^[0-9]+$/.test(rest[0] ?? '') ? [] : {}), tail, value);
  return obj;
}

export function asString(v: Json | undefined): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}
export function asList(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.map((x) => asString(x)) : typeof v === 'string' ? [v] : [];
}
export function asObject(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** Empty containers the form leaves behind (no headers, no offline page) would read as changes. */
export function prune(service: JsonObject): JsonObject {
  let out: Json = service;
  const dropIfEmpty = (path: string) => {
    const v = getAt(out, path);
    if (v === undefined) return;
    const empty = Array.isArray(v) ? v.length === 0 : Object.keys(asObject(v)).length === 0;
    if (empty) out = setAt(out, path, undefined);
  };
  const routes = Array.isArray(service.routes) ? service.routes.length : 0;
  for (let i = 0; i < routes; i++) {
    for (const side of ['request', 'response']) {
      dropIfEmpty(`routes.${i}.headers.${side}.set`);
      dropIfEmpty(`routes.${i}.headers.${side}.delete`);
      dropIfEmpty(`routes.${i}.headers.${side}`);
    }
    dropIfEmpty(`routes.${i}.headers`);
  }
  dropIfEmpty('offline_page');
  dropIfEmpty('labels');
  return asObject(out);
}

/** Field errors by path; a container's path also collects what is said about its items. */
export class Issues {
  constructor(readonly list: FieldIssue[] = []) {}
  /** Messages about exactly this field. */
  at(path: string): string | undefined {
    const m = this.list.filter((i) => i.field === path).map((i) => i.message);
    return m.length ? m.join('; ') : undefined;
  }
  /** Messages about this field and, named by their place, about anything inside it. */
  under(path: string): string | undefined {
    const m = this.list
      .filter((i) => i.field === path || i.field.startsWith(path + '.'))
      .map((i) => (i.field === path ? i.message : `${i.field.slice(path.length + 1)}: ${i.message}`));
    return m.length ? m.join('; ') : undefined;
  }
}

/** The API prefixes fields with where they came from (`body.`); the form knows only the service. */
export function serviceIssues(list: FieldIssue[]): Issues {
  return new Issues(list.map((i) => ({ ...i, field: i.field.replace(/^body\./, '') })));
}

export interface EditorApi {
  get(path: string): Json | undefined;
  set(path: string, value: Json | undefined): void;
  issues: Issues;
  /** OIDC provider names, for the access editor's choice. */
  providers: string[];
}

export const EditorContext = createContext<EditorApi | null>(null);

export function useEditor(): EditorApi {
  const e = useContext(EditorContext);
  if (!e) throw new Error('useEditor outside the service editor');
  return e;
}
