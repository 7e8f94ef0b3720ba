import { useState } from 'react';
import type { ServiceList, VpnClientList, VpnGroupList } from '../../../src/api/views';
import { api } from '../api';
import { badge, StateBadge } from '../components/badges';
import { plainButton } from '../components/buttons';
import { ConfirmStep } from '../components/ConfirmStep';
import { LoadedList } from '../components/LoadedList';
import { ListHeading, PageHeader } from '../components/PageHeader';
import { Outcome } from '../components/Notice';
import { actionsColumn, Table } from '../components/Table';
import { local, relative } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { bytes, isOnline, type VpnClientShape } from './vpn/format';
import { VpnClientAdd } from './vpn/VpnClientAdd';
import { VpnGroups } from './vpn/VpnGroups';

/** Handshakes and bytes are announced by no event: read again this often. */
const POLL_MS = 5_000;

function HandshakeCell({ c }: { c: VpnClientShape }) {
  const online = isOnline(c);
  return (
    <div className="flex flex-col gap-0.5">
      <StateBadge on={online} yes="online" no="offline" testId="online" className="self-start" />
      <span
        className="text-xs text-slate-500"
        data-testid="handshake"
        title={c.last_handshake ? local(c.last_handshake) : undefined}
      >
        {c.last_handshake ? `handshake ${relative(c.last_handshake)}` : 'no handshake'}
      </span>
    </div>
  );
}

function ExpiresCell({ c }: { c: VpnClientShape }) {
  if (c.expired)
    return (
      <span
        className={`${badge} bg-red-100 text-red-800`}
        title={c.expires_at ? local(c.expires_at) : undefined}
      >
        expired
      </span>
    );
  if (!c.expires_at) return <span className="text-slate-500">never</span>;
  return <span title={local(c.expires_at)}>{relative(c.expires_at)}</span>;
}

function ClientRow({ c, onRevoke }: { c: VpnClientShape; onRevoke: (name: string) => void }) {
  return (
    <tr className="border-t border-slate-100 align-top" data-client={c.name}>
      <td className="px-3 py-1.5 font-medium">{c.name}</td>
      <td className="px-3 py-1.5" data-testid="group">
        {c.group ?? <span className="text-slate-500">none</span>}
      </td>
      <td className="px-3 py-1.5 font-mono" data-testid="address">
        {c.address}
      </td>
      <td className="break-all px-3 py-1.5 font-mono text-xs" data-testid="policy">
        {c.policy}
        {c.policy_from === 'group' ? <span className="font-sans text-slate-500"> (group’s)</span> : null}
      </td>
      <td className="px-3 py-1.5">
        <HandshakeCell c={c} />
      </td>
      <td className="whitespace-nowrap px-3 py-1.5" data-testid="bytes">
        {bytes(c.rx_bytes)} / {bytes(c.tx_bytes)}
      </td>
      <td className="whitespace-nowrap px-3 py-1.5" data-testid="expires">
        <ExpiresCell c={c} />
      </td>
      <td className="px-3 py-1.5 text-right">
        <button
          type="button"
          onClick={() => onRevoke(c.name)}
          aria-label={`Revoke VPN client ${c.name}`}
          className={plainButton}
        >
          Revoke
        </button>
      </td>
    </tr>
  );
}

/**
 * VPN clients (docs/vpn-clients.md): devices on the WireGuard tunnel, each with a policy the server
 * enforces. Add (the config shown once, with its QR code), list with handshake and bytes, revoke;
 * below them the device groups whose policy their clients may follow (vpn/VpnGroups.tsx).
 */
export function VpnClients() {
  const [revoking, setRevoking] = useState('');
  const { data, error, setError, load } = useLoad(async () => {
    const [c, s, g] = await Promise.all([
      api<VpnClientList>('GET', '/vpn/clients'),
      api<ServiceList>('GET', '/services'),
      api<VpnGroupList>('GET', '/vpn/groups'),
    ]);
    return { clients: c.clients, services: s.services.map((x) => x.service.name).sort(), groups: g.groups };
  });
  const { busy, done, setDone, run } = useAction(setError);
  usePoll(load, POLL_MS);
  const clients = data?.clients;

  const revoke = (name: string) =>
    run(async () => {
      await api('DELETE', `/vpn/clients/${encodeURIComponent(name)}`);
      setRevoking('');
      setDone(`Revoked VPN client ${name}.`);
      await load();
    });

  return (
    <section aria-labelledby="vpn-title" className="flex flex-col gap-6">
      <PageHeader id="vpn-title" title="VPN clients" />
      <p className="text-sm text-slate-600">
        A VPN client is a device (a laptop, a phone) that joins the WireGuard tunnel of a public edge. What it
        may reach is decided on the server by its policy.
      </p>
      <VpnClientAdd
        services={data?.services ?? []}
        groups={data?.groups.map((g) => g.name) ?? []}
        onAdded={() => void load()}
      />
      <ListHeading title="Clients" onRefresh={() => void load()}>
        {clients?.length ? (
          <span className="text-sm text-slate-600" data-testid="clients-online">
            {clients.filter((c) => isOnline(c)).length} of {clients.length} online
          </span>
        ) : null}
      </ListHeading>
      <Outcome error={error} done={done} />
      {revoking ? (
        <ConfirmStep
          label="Confirm revocation"
          action={busy ? 'Revoking…' : `Revoke ${revoking}`}
          busy={busy}
          onConfirm={() => void revoke(revoking)}
          onCancel={() => setRevoking('')}
        >
          Revoke VPN client <strong>{revoking}</strong>? The servers drop its peer at once: its config stops
          working, and cannot be used again.
        </ConfirmStep>
      ) : null}
      <LoadedList items={clients ?? null} empty="No VPN clients yet.">
        {(clients) => (
          <Table
            testId="vpn-clients"
            columns={[
              'Name',
              'Group',
              'Tunnel IP',
              'Policy',
              'Handshake',
              'Received / sent',
              'Expires',
              actionsColumn,
            ]}
          >
            {clients.map((c) => (
              <ClientRow
                key={c.name}
                c={c}
                onRevoke={(name) => {
                  setDone('');
                  setRevoking(name);
                }}
              />
            ))}
          </Table>
        )}
      </LoadedList>
      <VpnGroups groups={data?.groups ?? null} services={data?.services ?? []} onChange={load} />
    </section>
  );
}
