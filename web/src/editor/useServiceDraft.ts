import { useMemo, useState } from 'react';
import YAML from 'yaml';
import type { FieldIssue, ServiceDryRun } from '../../../src/api/views';
import { messageOf } from '../api';
import {
  asObject,
  getAt,
  prune,
  serviceIssues,
  setAt,
  type EditorApi,
  type Json,
  type JsonObject,
} from './draft';
import { blankService, NEW_SERVICE, takeCarried } from './record';
import { useServiceRecord } from './useServiceRecord';

/**
 * One service being edited (`routeName`, or `+new`): the stored record, the form's draft and name,
 * or the YAML text while that is open; what the checks and the API said of it (`issues`, the
 * error line `general`, `done`); and the dry run of it (`review`), which a change drops.
 */
export function useServiceDraft(routeName: string) {
  const isNew = routeName === NEW_SERVICE;
  const [draft, setDraft] = useState<JsonObject | null>(isNew ? blankService() : null);
  const [name, setName] = useState(isNew ? '' : routeName);
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [general, setGeneral] = useState('');
  const [done, setDone] = useState(takeCarried);
  const [review, setReview] = useState<ServiceDryRun | null>(null);
  const [yaml, setYaml] = useState<string | null>(null);
  const record = useServiceRecord(routeName, isNew, setDraft, setGeneral);
  const { providers } = record;

  const editor = useMemo<EditorApi | null>(
    () =>
      draft && {
        get: (path) => getAt(draft, path),
        set: (path, value) => {
          setDraft((d) => asObject(setAt(d ?? {}, path, value)));
          setReview(null);
          setDone('');
        },
        issues: serviceIssues(issues),
        providers,
      },
    [draft, issues, providers],
  );

  /** The service as it would be sent: the form's draft, or the YAML text when that is open. */
  function current(): JsonObject | undefined {
    if (yaml === null) return draft ? prune({ ...draft, name }) : undefined;
    try {
      const parsed = YAML.parse(yaml) as Json;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        setGeneral('YAML: the service is a mapping (name: …, hosts: …, routes: …)');
        return undefined;
      }
      return { ...parsed, name };
    } catch (e) {
      setGeneral(`YAML: ${messageOf(e)}`);
      return undefined;
    }
  }

  function toggleYaml() {
    if (yaml === null) {
      setYaml(YAML.stringify(prune({ ...(draft ?? {}), name })));
      return;
    }
    const svc = current();
    if (!svc) return;
    const rest = { ...svc };
    delete rest.name;
    setDraft(rest);
    setYaml(null);
    setGeneral('');
  }

  return {
    ...record,
    isNew,
    routeName,
    draft,
    setDraft,
    name,
    /** A review was of the old name: it must not be saved under a new one. */
    rename(n: string) {
      setName(n);
      setReview(null);
    },
    yaml,
    setYaml,
    editYaml(text: string) {
      setYaml(text);
      setReview(null);
    },
    toggleYaml,
    current,
    editor,
    issues,
    setIssues,
    general,
    setGeneral,
    done,
    setDone,
    review,
    setReview,
  };
}

export type ServiceDraft = ReturnType<typeof useServiceDraft>;
