/**
 * One line of nginx's JSON access log (render.ts's gh_main) for path `uri`, as nginx writes it;
 * `time` is nginx's $msec (seconds, milliseconds after the point).
 */
export function accessLine(uri: string, status = 200, time = 1765100000.123): string {
  return `${JSON.stringify({
    time,
    host: 'a.test',
    method: 'GET',
    uri,
    status,
    request_time: 0.004,
    upstream_addr: '10.0.0.1:80',
    upstream_status: String(status),
    upstream_response_time: '0.003',
    request_length: 80,
    bytes_sent: 420,
    remote_addr: '192.0.2.7',
    pool: '',
  })}\n`;
}
