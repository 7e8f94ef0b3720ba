/**
 * `node:net`'s address checks for the browser, so the model's schemas (src/model) validate in the
 * UI as they do in the API. The API stays the judge: this only catches mistakes before a round trip.
 */
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const V4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

export function isIPv4(s: string): boolean {
  return V4.test(s);
}

export function isIPv6(s: string): boolean {
  // Node accepts a zone id ("fe80::1%eth0"); the URL parser does not, so check the address alone.
  const addr = s.split('%')[0] ?? '';
  if (!addr.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(addr)) return false;
  try {
    new URL(`http://[${addr}]/`);
    return true;
  } catch {
    return false;
  }
}
