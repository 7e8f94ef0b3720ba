import { LimitsEditor } from './LimitsEditor';
import { WafEditor } from './WafEditor';
import { CheckboxField, Field, SelectField } from '../components/Field';
import { useEditor, type JsonObject } from './draft';
import { Rows, Section, TextAt } from './parts';

/** The service as a whole: its name (when new), hosts, HTTPS, where it is served, offline page. */
export function ServiceSection({
  draft,
  isNew,
  name,
  setName,
}: {
  draft: JsonObject;
  isNew: boolean;
  name: string;
  setName: (name: string) => void;
}) {
  const ed = useEditor();
  return (
    <Section title="Service" error={ed.issues.at('(root)')}>
      <div className="grid gap-3 md:grid-cols-2">
        {isNew ? (
          <Field
            label="Name"
            name="name"
            required
            value={name}
            onChange={(e) => setName(e.target.value.trim())}
            error={ed.issues.at('name')}
          />
        ) : null}
        <SelectField
          label="HTTPS"
          value={typeof draft.tls === 'string' ? draft.tls : ''}
          onChange={(e) => ed.set('tls', e.target.value || undefined)}
          options={[
            { value: '', label: 'default (auto)' },
            { value: 'auto', label: 'auto: when a certificate covers the hosts' },
            { value: 'none', label: 'none: plain HTTP only' },
          ]}
        />
        <SelectField
          label="Served by"
          value={typeof draft.expose === 'string' ? draft.expose : ''}
          onChange={(e) => ed.set('expose', e.target.value || undefined)}
          options={[
            { value: '', label: 'all edges (default)' },
            { value: 'public', label: 'public edges' },
            { value: 'lan', label: 'LAN edges' },
            { value: 'both', label: 'both' },
          ]}
        />
      </div>
      <Rows path="hosts" label="Hosts" itemLabel="Host" placeholder="app.example.com" addLabel="Add host" />
      <div className="flex flex-wrap gap-4">
        <CheckboxField
          label="HSTS (browsers insist on HTTPS)"
          checked={draft.hsts === true}
          onChange={(e) => ed.set('hsts', e.target.checked || undefined)}
        />
        <CheckboxField
          label="CrowdSec's bans apply (when a Local API is set)"
          checked={draft.crowdsec !== false}
          onChange={(e) => ed.set('crowdsec', e.target.checked ? undefined : false)}
        />
        <CheckboxField
          label="Suspended (answers its offline page)"
          checked={draft.suspended === true}
          onChange={(e) => ed.set('suspended', e.target.checked || undefined)}
        />
      </div>
      <div className="grid gap-3 md:grid-cols-2">
        <TextAt path="offline_page.title" label="Offline page: title" />
        <TextAt path="offline_page.message" label="Offline page: message" placeholder="Back at 10:00" />
      </div>
      <WafEditor draft={draft} />
      <LimitsEditor
        path="limits"
        label="Limits: requests at once, bandwidth (every route)"
        prefix="Limits: "
      />
    </Section>
  );
}
