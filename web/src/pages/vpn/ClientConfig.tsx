import QRCode from 'qrcode';
import { useEffect, useState } from 'react';
import type { VpnClientAdded } from '../../../../src/api/views';
import { buttonClass, plainButton } from '../../components/buttons';
import { useCopy } from '../../hooks/useCopy';

/** The config as a QR code, drawn here (the API's PNG would need a second add): no outside service sees it. */
function useQr(text: string): { src: string; error: string } {
  const [qr, setQr] = useState({ src: '', error: '' });
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 2, width: 320 }).then(
      (src) => live && setQr({ src, error: '' }),
      (err: unknown) => live && setQr({ src: '', error: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [text]);
  return qr;
}

/** Saves the config as NAME.conf (the WireGuard apps import such a file). */
function download(name: string, config: string) {
  const url = URL.createObjectURL(new Blob([config], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name}.conf`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A client just added: its WireGuard config (with its private key, which Gatehouse does not keep)
 * as a QR code and as text, shown this once. Done forgets it.
 */
export function ClientConfig({ added, onDone }: { added: VpnClientAdded; onDone: () => void }) {
  const { client, config } = added;
  const qr = useQr(config);
  const { field, copied, copy } = useCopy<HTMLTextAreaElement>(config);
  return (
    <div
      className="flex flex-col gap-3 rounded border border-green-200 bg-green-50 p-3 text-sm text-green-900"
      data-testid="vpn-config"
    >
      {/* Only the sentence is announced: a screen reader must not read the private key aloud. */}
      <span role="status">
        VPN client <strong>{client.name}</strong> added (tunnel address{' '}
        <span className="font-mono">{client.address}</span>, policy{' '}
        <span className="font-mono">{client.policy}</span>).
      </span>
      <p className="rounded border border-amber-300 bg-amber-50 p-2 font-medium text-amber-900">
        This config is shown only now: its private key is not stored, and it cannot be shown again. Scan the
        QR code with the WireGuard app, or copy or download the config, before you close this. (Lost it?
        Revoke the client and add it anew.)
      </p>
      <div className="flex flex-col gap-3 md:flex-row md:items-start">
        <div className="shrink-0 self-center rounded bg-white p-2 md:self-start">
          {qr.src ? (
            <img
              src={qr.src}
              alt={`QR code of the WireGuard config of ${client.name}`}
              width={240}
              height={240}
              className="h-60 w-60 [image-rendering:pixelated]"
            />
          ) : (
            <p className="w-60 text-slate-600">
              {qr.error ? `No QR code: ${qr.error}` : 'Drawing the QR code…'}
            </p>
          )}
        </div>
        <div className="flex min-w-0 flex-1 flex-col gap-2">
          <textarea
            ref={field}
            readOnly
            aria-label="WireGuard config"
            value={config}
            rows={config.split('\n').length}
            onFocus={(e) => e.target.select()}
            className="min-w-0 resize-y rounded border border-slate-300 bg-white px-3 py-2 font-mono text-xs text-slate-900"
          />
          <div className="flex flex-wrap items-center gap-2">
            <button type="button" onClick={copy} aria-label="Copy config" className={buttonClass}>
              Copy
            </button>
            <button
              type="button"
              onClick={() => download(client.name, config)}
              aria-label={`Download ${client.name}.conf`}
              className={buttonClass}
            >
              Download .conf
            </button>
            <button type="button" onClick={onDone} className={plainButton}>
              Done
            </button>
            {copied ? <span className="text-xs">{copied}</span> : null}
          </div>
        </div>
      </div>
    </div>
  );
}
