import type { ReactNode } from 'react';
import { plainButton } from '../components/buttons';
import { CheckboxField, Field, SelectField } from '../components/Field';
import { ErrorLine } from '../components/Notice';
import { ApiKeysAccess } from './ApiKeysAccess';
import { asList, asObject, asString, useEditor, type Json, type JsonObject } from './draft';
import { ListText, Section, TextAt } from './parts';

/** A part of the access model that is on when its key is present. */
function Toggle({
  path,
  label,
  on,
  children,
}: {
  path: string;
  label: string;
  /** What the key holds when switched on. */
  on: Json;
  children?: ReactNode;
}) {
  const ed = useEditor();
  const present = ed.get(path) !== undefined && ed.get(path) !== false;
  return (
    <div className="flex flex-col gap-2">
      <CheckboxField
        label={label}
        checked={present}
        onChange={(e) => ed.set(path, e.target.checked ? on : undefined)}
      />
      {present && children ? (
        <div className="ml-6 flex flex-col gap-3 border-l-2 border-slate-100 pl-3">{children}</div>
      ) : null}
    </div>
  );
}

/** How a rule looks at a request header (headerConditionSchema: one of present, equals, regex). */
const HEADER_MATCHES = [
  { value: '', label: 'any headers' },
  { value: 'present', label: 'header is sent' },
  { value: 'absent', label: 'header is not sent' },
  { value: 'equals', label: 'header equals' },
  { value: 'regex', label: 'header matches a pattern' },
];

function headerMatch(h: JsonObject): string {
  if (h.present === true) return 'present';
  if (h.present === false) return 'absent';
  if (h.equals !== undefined) return 'equals';
  if (h.regex !== undefined) return 'regex';
  return '';
}

/** A rule's header condition; several (a list) are shown, and edited as YAML. */
function HeaderCondition({ path, n }: { path: string; n: number }) {
  const ed = useEditor();
  const value = ed.get(path);
  if (Array.isArray(value))
    return (
      <p className="text-sm text-slate-600">
        Rule {n}: {value.length} header conditions, all must hold (edit them in the YAML view).
      </p>
    );
  const h = asObject(value);
  const match = value === undefined ? '' : headerMatch(h) || 'present';
  const choose = (m: string) => {
    const name = asString(h.name);
    if (m === '') ed.set(path, undefined);
    else if (m === 'present' || m === 'absent') ed.set(path, { name, present: m === 'present' });
    else if (m === 'equals') ed.set(path, { name, equals: asString(h.equals) });
    else ed.set(path, { name, regex: asString(h.regex) });
  };
  return (
    <div className="grid gap-2 md:grid-cols-3">
      <SelectField
        label={`Rule ${n}: header`}
        value={match}
        onChange={(e) => choose(e.target.value)}
        options={HEADER_MATCHES}
        error={ed.issues.at(path)}
      />
      {match ? (
        <TextAt path={`${path}.name`} label={`Rule ${n}: header name`} placeholder="X-Api-Key" />
      ) : null}
      {match === 'equals' ? (
        <TextAt path={`${path}.equals`} label={`Rule ${n}: header value`} required />
      ) : null}
      {match === 'regex' ? (
        <TextAt
          path={`${path}.regex`}
          label={`Rule ${n}: header pattern`}
          placeholder="^ci-[0-9]+$"
          required
        />
      ) : null}
    </div>
  );
}

function Rules({ path }: { path: string }) {
  const ed = useEditor();
  const rules = Array.isArray(ed.get(path)) ? (ed.get(path) as Json[]) : [];
  return (
    <div className="flex flex-col gap-3">
      {rules.map((_, i) => {
        const p = `${path}.${i}`;
        return (
          <div key={i} className="flex flex-col gap-2 rounded border border-slate-200 p-3">
            <ErrorLine error={ed.issues.at(p)} />
            <div className="grid gap-2 md:grid-cols-4">
              <SelectField
                label={`Rule ${i + 1}: action`}
                value={asString(ed.get(`${p}.action`)) || 'allow'}
                onChange={(e) => ed.set(`${p}.action`, e.target.value)}
                options={['allow', 'deny']}
              />
              <ListText path={`${p}.cidr`} label={`Rule ${i + 1}: addresses`} hint="10.0.0.0/8" />
              <TextAt path={`${p}.path`} label={`Rule ${i + 1}: path`} placeholder="/admin" />
              <ListText path={`${p}.method`} label={`Rule ${i + 1}: methods`} hint="GET, POST" />
            </div>
            <HeaderCondition path={`${p}.header`} n={i + 1} />
            {/* GeoIP (setting geoip_db): without a database such a rule fails closed. */}
            <div className="grid gap-2 md:grid-cols-3">
              <ListText path={`${p}.country`} label={`Rule ${i + 1}: countries`} hint="DE, AT" />
              <ListText path={`${p}.country_not`} label={`Rule ${i + 1}: not from countries`} hint="DE" />
              <ListText path={`${p}.asn`} label={`Rule ${i + 1}: networks (ASN)`} hint="3320" numbers />
            </div>
            <div>
              <button
                type="button"
                className={plainButton}
                onClick={() => ed.set(p, undefined)}
                aria-label={`Remove rule ${i + 1}`}
              >
                Remove rule
              </button>
            </div>
          </div>
        );
      })}
      <div>
        <button
          type="button"
          className={plainButton}
          onClick={() => ed.set(`${path}.${rules.length}`, { action: 'allow', path: '/' })}
        >
          Add rule
        </button>
      </div>
    </div>
  );
}

function BasicUsers({ path }: { path: string }) {
  const ed = useEditor();
  const users = Array.isArray(ed.get(path)) ? (ed.get(path) as Json[]) : [];
  return (
    <div className="flex flex-col gap-2">
      {users.map((_, i) => (
        <div key={i} className="grid items-start gap-2 md:grid-cols-[1fr_2fr]">
          <TextAt path={`${path}.${i}.user`} label={`Basic user ${i + 1}`} required />
          <TextAt
            path={`${path}.${i}.password_hash`}
            label={`Basic user ${i + 1}: password hash`}
            placeholder="$argon2id$v=19$… (gatehouse hash-password)"
            required
            after={
              <button
                type="button"
                className={plainButton}
                onClick={() => ed.set(`${path}.${i}`, undefined)}
                aria-label={`Remove basic user ${i + 1}`}
              >
                Remove
              </button>
            }
          />
        </div>
      ))}
      <div>
        <button
          type="button"
          className={plainButton}
          onClick={() => ed.set(`${path}.${users.length}`, { user: '', password_hash: '' })}
        >
          Add basic user
        </button>
      </div>
    </div>
  );
}

/** Identity header sets sent when a service says nothing (src/compile/compile.ts). */
const IDENTITY_DEFAULT = ['remote', 'x-user'];

/** Which OIDC provider signs in: a choice of the configured ones, else its name typed out. */
function ProviderChoice({ path }: { path: string }) {
  const ed = useEditor();
  return ed.providers.length ? (
    <SelectField
      label="Provider"
      value={asString(ed.get(path))}
      onChange={(e) => ed.set(path, e.target.value)}
      options={ed.providers}
      error={ed.issues.under(path)}
    />
  ) : (
    <TextAt path={path} label="Provider" required />
  );
}

/** A rate limit's fields: how many requests, per how long, counted by address or by user. */
function RateLimitFields({ path }: { path: string }) {
  const ed = useEditor();
  return (
    <div className="grid gap-2 md:grid-cols-3">
      <Field
        label="Requests"
        type="number"
        min={1}
        value={asString(ed.get(`${path}.requests`))}
        onChange={(e) =>
          ed.set(`${path}.requests`, e.target.value === '' ? undefined : Number(e.target.value))
        }
        error={ed.issues.under(`${path}.requests`)}
      />
      <TextAt path={`${path}.per`} label="Per" placeholder="1s" required />
      <SelectField
        label="Counted by"
        value={asString(ed.get(`${path}.by`)) || 'ip'}
        onChange={(e) => ed.set(`${path}.by`, e.target.value)}
        options={[
          { value: 'ip', label: 'client address' },
          { value: 'user', label: 'signed-in user' },
        ]}
        error={ed.issues.under(`${path}.by`)}
      />
    </div>
  );
}

/** Which identity headers reach the upstream. */
function IdentityHeaders({ path }: { path: string }) {
  const ed = useEditor();
  // Absent means both sets are sent (the compiler's default): show that, and store [] for none.
  const stored = ed.get(`${path}.identity_headers`);
  const identity = stored === undefined ? IDENTITY_DEFAULT : asList(stored);
  const setIdentity = (name: string, on: boolean) => {
    const next = on ? [...new Set([...identity, name])] : identity.filter((n) => n !== name);
    const isDefault = IDENTITY_DEFAULT.every((n) => next.includes(n));
    ed.set(`${path}.identity_headers`, isDefault ? undefined : next);
  };
  return (
    <div className="flex flex-wrap gap-4">
      <CheckboxField
        label="Send Remote-User headers"
        checked={identity.includes('remote')}
        onChange={(e) => setIdentity('remote', e.target.checked)}
      />
      <CheckboxField
        label="Send X-User headers"
        checked={identity.includes('x-user')}
        onChange={(e) => setIdentity('x-user', e.target.checked)}
      />
    </div>
  );
}

/**
 * The access model of a service or a route: who may pass (public, sign-in, a provider, addresses,
 * temporary links, API keys, basic credentials, another auth service), rules before all of it, a
 * rate limit, and which identity headers reach the upstream. The API's checks (e.g. public with
 * sign-in) come back as errors on the section.
 */
export function AccessEditor({ path, title, inherit }: { path: string; title: string; inherit?: string }) {
  const ed = useEditor();
  const access = ed.get(path);
  const own = access !== undefined;
  return (
    <Section title={title} error={ed.issues.at(path)}>
      {inherit ? (
        <CheckboxField
          label={`Own access rules (otherwise: ${inherit})`}
          checked={own}
          onChange={(e) => ed.set(path, e.target.checked ? { public: true } : undefined)}
        />
      ) : null}
      {!own && inherit ? null : (
        <div className="flex flex-col gap-3">
          <CheckboxField
            label="Public: anyone may pass"
            checked={asObject(access).public === true}
            onChange={(e) => ed.set(`${path}.public`, e.target.checked ? true : undefined)}
          />
          {!own ? (
            // A service without any access block is public: say so, or the empty boxes read as closed.
            <p className="-mt-2 ml-6 text-xs text-slate-500">
              No access is set, so anyone may pass, as with Public.
            </p>
          ) : null}
          <Toggle path={`${path}.login`} label="Sign-in required (Gatehouse users)" on={{ groups: [] }}>
            <ListText
              path={`${path}.login.groups`}
              label="Only members of these groups"
              hint="any signed-in user"
            />
          </Toggle>
          <Toggle
            path={`${path}.provider`}
            label="Sign-in through an OIDC provider"
            on={ed.providers[0] ?? ''}
          >
            <ProviderChoice path={`${path}.provider`} />
          </Toggle>
          <Toggle path={`${path}.ip`} label="Addresses that pass" on={['127.0.0.1']}>
            <ListText path={`${path}.ip`} label="Addresses (CIDR)" hint="192.168.0.0/16, 10.0.0.5" />
          </Toggle>
          <CheckboxField
            label="Temporary links may admit visitors"
            checked={asObject(access).links === true}
            onChange={(e) => ed.set(`${path}.links`, e.target.checked ? true : undefined)}
          />
          <ApiKeysAccess path={`${path}.api_keys`} />
          <Toggle
            path={`${path}.basic`}
            label="HTTP basic credentials"
            on={[{ user: '', password_hash: '' }]}
          >
            <BasicUsers path={`${path}.basic`} />
          </Toggle>
          <Toggle
            path={`${path}.forward_auth`}
            label="Ask another auth service (forward auth)"
            on={{ url: '' }}
          >
            <TextAt
              path={`${path}.forward_auth.url`}
              label="Auth URL"
              placeholder="http://authelia:9091/api/verify"
              required
            />
            <ListText
              path={`${path}.forward_auth.copy_headers`}
              label="Headers to copy to the upstream"
              hint="Remote-User"
            />
          </Toggle>
          <Toggle
            path={`${path}.rules`}
            label="Rules (checked first; first match decides)"
            on={[{ action: 'allow', path: '/' }]}
          >
            <Rules path={`${path}.rules`} />
          </Toggle>
          <Toggle path={`${path}.rate_limit`} label="Rate limit" on={{ requests: 10, per: '1s', by: 'ip' }}>
            <RateLimitFields path={`${path}.rate_limit`} />
          </Toggle>
          <IdentityHeaders path={path} />
        </div>
      )}
    </Section>
  );
}
