import type { SiteAdded } from '../../../../src/api/views';
import { api, ApiError } from '../../api';
import { CheckboxField, Field } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { CopyValue, OneTimePanel, withControlUrl } from '../../components/OneTime';
import { useCreateForm } from '../../hooks/useCreateForm';

/** The subnets as typed: separated by commas, spaces or both. */
const subnetsOf = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/**
 * The API names a bad subnet by its place in the list (`subnets.1`); next to a one-line field the
 * value itself says more, so each such complaint starts with it.
 */
async function addSite(name: string, subnets: string[], siteToSite: boolean): Promise<SiteAdded> {
  try {
    return await api<SiteAdded>('POST', '/sites', {
      name,
      subnets,
      ...(siteToSite ? { site_to_site: true } : {}),
    });
  } catch (err) {
    if (!(err instanceof ApiError) || !err.body.issues) throw err;
    const issues = err.body.issues.map((i) => {
      const n = /^(?:body\.)?subnets\.(\d+)$/.exec(i.field)?.[1];
      const value = n === undefined ? undefined : subnets[Number(n)];
      return value && !i.message.includes(value) ? { ...i, message: `${value}: ${i.message}` } : i;
    });
    throw new ApiError(err.status, { ...err.body, issues });
  }
}

/** The command of a site just added, with its token in it: shown once, never again. */
function Created({ created, onDone }: { created: SiteAdded; onDone: () => void }) {
  return (
    <OneTimePanel
      onDone={onDone}
      status={
        <>
          Site <strong>{created.site.name}</strong> added (tunnel address{' '}
          <span className="font-mono">{created.site.address}</span>). Its token is shown only now: run this
          command as root on a machine at the site (change the control URL if it reaches this API by another
          address).
        </>
      }
    >
      <CopyValue label="Connect command" value={withControlUrl(created.command)} multiline />
    </OneTimePanel>
  );
}

type FormField = 'name' | 'subnets';

/** Adds a site: its name and the LAN subnets it announces, then the one-time connect command. */
export function SiteAdd({ onAdded }: { onAdded: () => void }) {
  const {
    values,
    setValues,
    general,
    field,
    result: created,
    setResult,
    busy,
    submit,
  } = useCreateForm({
    // siteToSite: 'on' or '' (the form's values are text).
    initial: { name: '', subnets: '', siteToSite: '' },
    fieldOf: (f): FormField | undefined =>
      f === 'name' ? 'name' : f === 'subnets' || f.startsWith('subnets.') ? 'subnets' : undefined,
    send: (v) => addSite(v.name.trim(), subnetsOf(v.subnets), v.siteToSite === 'on'),
    onSent: onAdded,
  });

  return (
    <FormCard titleId="site-add-title" title="Add a site" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        <Field {...field('name')} label="Site name" placeholder="home" required autoComplete="off" />
        <div className="md:col-span-2">
          <Field
            {...field('subnets')}
            label="LAN subnets it announces (comma-separated)"
            placeholder="192.168.1.0/24, 10.0.0.0/24"
            autoComplete="off"
            className="w-full"
          />
        </div>
      </div>
      <CheckboxField
        name="site_to_site"
        label="Site-to-site: reach the other site-to-site sites' subnets through the public edges, and be reached by them"
        checked={values.siteToSite === 'on'}
        onChange={(e) => setValues((v) => ({ ...v, siteToSite: e.target.checked ? 'on' : '' }))}
      />
      <FormFooter error={general} busy={busy} label="Add site" busyLabel="Adding…">
        {created ? <Created created={created} onDone={() => setResult(null)} /> : null}
      </FormFooter>
    </FormCard>
  );
}
