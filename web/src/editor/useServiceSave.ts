import { useState } from 'react';
import YAML from 'yaml';
import type { FieldIssue, ServiceDryRun, ServiceWrite } from '../../../src/api/views';
import { serviceSchema } from '../../../src/model/service';
import { api, ApiError, messageOf } from '../api';
import { carryOver, servicePath, type LoadedService } from './record';
import type { ServiceDraft } from './useServiceDraft';

/**
 * The way a draft is stored: the model's schema in the browser, then the API's dry run (`review`),
 * then the save, which refuses to overwrite a change someone made meanwhile (`stale` offers to
 * load theirs); and deleting the service after a confirmation.
 */
export function useServiceSave(d: ServiceDraft) {
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  /** Someone else changed the service since it was loaded: offer to load theirs. */
  const [stale, setStale] = useState(false);
  const { name, isNew } = d;

  function showErrors(list: FieldIssue[], message: string) {
    d.setIssues(list);
    d.setGeneral(message);
  }

  async function reviewChanges() {
    d.setGeneral('');
    d.setDone('');
    d.setReview(null);
    const svc = d.current();
    if (!svc) return;
    // The model's schema first, in the browser: the same messages the API would give, at once.
    const local = serviceSchema.safeParse(svc);
    if (!local.success) {
      const list = local.error.issues.map((i) => ({
        field: i.path.map(String).join('.') || '(root)',
        message: i.message,
      }));
      showErrors(list, `${list.length} field${list.length === 1 ? '' : 's'} to fix (marked below).`);
      return;
    }
    setBusy(true);
    try {
      const r = await api<ServiceDryRun>('PUT', `${servicePath(name)}?dry_run=true`, svc);
      d.setIssues([]);
      d.setReview(r);
    } catch (e) {
      if (e instanceof ApiError && e.body.issues?.length) showErrors(e.body.issues, e.body.message);
      else d.setGeneral(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  async function save() {
    const svc = d.current();
    if (!svc) return;
    setBusy(true);
    try {
      const guard = d.loaded ? d.loaded.meta.updated_at : 'absent';
      const r = await api<LoadedService & Pick<ServiceWrite, 'version'>>(
        'PUT',
        `${servicePath(name)}?wait=true&if_updated_at=${encodeURIComponent(guard)}`,
        svc,
      );
      d.setLoaded(r);
      d.setDraft(r.service);
      if (d.yaml !== null) d.setYaml(YAML.stringify(r.service));
      d.setReview(null);
      d.setIssues([]);
      d.setDone(`Saved as version ${r.version}; the proxy serves it now.`);
      if (isNew) {
        carryOver(`Saved as version ${r.version}; the proxy serves it now.`);
        window.location.hash = `#${servicePath(name)}`;
      }
    } catch (e) {
      d.setReview(null);
      if (e instanceof ApiError && e.body.issues?.length) showErrors(e.body.issues, e.body.message);
      else if (e instanceof ApiError && e.body.code === 'changed_meanwhile') {
        d.setGeneral(e.body.message);
        setStale(true);
      } else if (e instanceof ApiError && e.status >= 500) {
        // The write may be stored although the proxy did not confirm it (refused, or too slow):
        // what is stored now is the base of the next save, not what was loaded before.
        const fresh = await api<LoadedService>('GET', servicePath(name)).catch(() => null);
        if (fresh) d.setLoaded(fresh);
        d.setGeneral(
          fresh
            ? `Stored, but the proxy did not confirm it: ${e.body.message}`
            : `Not saved: ${e.body.message}`,
        );
        if (fresh && isNew) {
          carryOver('');
          window.location.hash = `#${servicePath(name)}`;
        }
      } else d.setGeneral(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  function reload() {
    setStale(false);
    d.setReview(null);
    d.setIssues([]);
    d.setYaml(null);
    void d.load();
  }

  async function remove() {
    setBusy(true);
    try {
      await api('DELETE', `${servicePath(name)}?wait=true`);
      window.location.hash = '#/services';
    } catch (e) {
      d.setGeneral(messageOf(e));
      setConfirmDelete(false);
    } finally {
      setBusy(false);
    }
  }

  return { busy, confirmDelete, setConfirmDelete, stale, reviewChanges, save, reload, remove };
}
