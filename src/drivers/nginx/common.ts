/** Pieces shared by the nginx renderer's files. */

/** The forwarding headers every proxied request carries (repeated where a location sets its own). */
export const PROXY_HEADERS = [
  'proxy_set_header Host $host;',
  'proxy_set_header X-Real-IP $remote_addr;',
  'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
  'proxy_set_header X-Forwarded-Host $host;',
  'proxy_set_header Upgrade $http_upgrade;',
  'proxy_set_header Connection $gh_connection;',
];

export function indent(line: string): string {
  return line === '' ? '' : `    ${line}`;
}

/** `listen` lines for a port: IPv4, and IPv6 too when the machine has it. */
export function listen(port: number, ipv6: boolean | undefined, extra = ''): string[] {
  const lines = [`listen ${port}${extra};`];
  if (ipv6) lines.push(`listen [::]:${port}${extra};`);
  return lines;
}
