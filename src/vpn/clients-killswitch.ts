/**
 * The kill switch of a client config (`vpn client add --kill-switch`): wg-quick hooks that, while
 * the interface is up, drop every packet the device sends except through the tunnel. An nftables
 * table of its own (`inet gatehouse_killswitch`, removed by PreDown) with an output chain whose
 * policy is drop: loopback passes, the tunnel interface passes, and so do WireGuard's own encrypted
 * packets to the server, which carry the interface's firewall mark (set to 51820 when wg-quick set
 * none, as it does for a full tunnel). If the tunnel breaks while up (server unreachable, link
 * cut), nothing leaks outside it. Linux only: the WireGuard apps of phones ignore these lines (use
 * the OS's "Block connections without VPN" / "Always-on VPN" there, see docs/vpn-clients.md).
 */

/** The nftables table the hooks make on the client. */
export const KILL_SWITCH_TABLE = 'gatehouse_killswitch';
const MARK = 51820;

/** `PostUp` / `PreDown` lines for the `[Interface]` section (wg-quick replaces %i, runs each in order). */
export function killSwitchLines(): string[] {
  const t = `inet ${KILL_SWITCH_TABLE}`;
  const up = [
    // wg-quick marks the tunnel's own packets only for a full tunnel: mark them in any case.
    `[ "$(wg show %i fwmark)" != off ] || wg set %i fwmark ${MARK}`,
    `nft add table ${t}`,
    `nft add chain ${t} output '{ type filter hook output priority filter; policy drop; }'`,
    `nft add rule ${t} output oifname "lo" accept`,
    `nft add rule ${t} output oifname "%i" accept`,
    `nft add rule ${t} output meta mark "$(wg show %i fwmark)" accept`,
  ];
  return [...up.map((c) => `PostUp = ${c}`), `PreDown = nft delete table ${t}`];
}
