import { CLAIM, SESSION_KEY_ENV, SIGN_IN, STATE_DIR, STATE_NAME_MAX, TOKEN } from '../../model/session.js';

const C = CLAIM;

/**
 * The gate's check inside nginx (njs 0.7, ES5-style), written to `njs/gate.js` in each generation.
 * It imports that generation's policy table (`njs/policies.js`, rendered by gate.ts) and answers
 * `$gh_verdict` for the route named by `$gh_policy`:
 *   pass | deny (403) | login (401: portal redirect or 401) | unavailable (no way to sign in: 503).
 * Sessions are HMAC-signed cookies; the key comes from the environment, never from a file.
 * Revocations are files whose existence is tested (one syscall). Every name and format shared with
 * the gate (key variable, token, claims, state files) is interpolated from model/session.ts; the
 * cookie's name comes with the policy table.
 * Anything unexpected answers deny: the check fails closed. The hot path never throws: a caught
 * exception costs more in njs than everything else here together.
 */
export const GATE_NJS = String.raw`import P from 'policies.js';
import fs from 'fs';
import crypto from 'crypto';

var KEY = process.env.${SESSION_KEY_ENV} || '';

// Cheaper than a regular expression on the hot path: no separators, no dots, bounded.
function safeId(id) {
  return typeof id === 'string' && id.length > 0 && id.length <= ${STATE_NAME_MAX} && id.indexOf('/') < 0 && id.indexOf('.') < 0;
}

function parseIp(s) {
  if (s.indexOf(':') < 0) return v4(s);
  var m = /^::ffff:([0-9.]+)$/i.exec(s);
  if (m) return v4(m[1]);
  var halves = s.split('::');
  if (halves.length > 2) return null;
  var head = halves[0] ? halves[0].split(':') : [];
  var tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  var fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  var words = head.concat(new Array(fill).fill('0'), tail);
  var bytes = [];
  for (var i = 0; i < words.length; i++) {
    var w = parseInt(words[i], 16);
    if (isNaN(w) || w < 0 || w > 0xffff) return null;
    bytes.push(w >> 8, w & 0xff);
  }
  return bytes;
}

function v4(s) {
  var p = s.split('.');
  if (p.length !== 4) return null;
  var bytes = [];
  for (var i = 0; i < 4; i++) {
    var n = Number(p[i]);
    if (!(n >= 0 && n <= 255)) return null;
    bytes.push(n);
  }
  return bytes;
}

function parseCidr(c) {
  var slash = c.indexOf('/');
  var bytes = parseIp(slash < 0 ? c : c.slice(0, slash));
  var bits = slash < 0 ? bytes.length * 8 : Number(c.slice(slash + 1));
  return { bytes: bytes, bits: bits };
}

function inCidr(ip, net) {
  if (!ip || ip.length !== net.bytes.length) return false;
  for (var i = 0, left = net.bits; left > 0; i++, left -= 8) {
    var mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((ip[i] & mask) !== (net.bytes[i] & mask)) return false;
  }
  return true;
}

function inAny(ip, nets) {
  for (var i = 0; i < nets.length; i++) if (inCidr(ip, nets[i])) return true;
  return false;
}

// Policies arrive with CIDRs as text; parse them once, when the module loads.
var ROUTES = {};
Object.keys(P.routes).forEach(function (id) {
  var p = P.routes[id];
  ROUTES[id] = {
    public: p.public,
    login: p.login,
    links: p.links || null,
    basic: !!p.basic,
    forward: !!p.forward,
    ip: p.ip ? p.ip.map(parseCidr) : null,
    rules: p.rules
      ? p.rules.map(function (r) {
          return { allow: r.action === 'allow', cidrs: r.cidrs.length ? r.cidrs.map(parseCidr) : null,
                   path: r.path || null, methods: r.methods.length ? r.methods : null };
        })
      : null,
  };
});

// Never by catching an exception: in njs a thrown error costs ~0.4 ms, 20x the whole check.
function exists(path) {
  return fs.statSync(path, { throwIfNoEntry: false }) !== undefined;
}

// Session cookies on the request. nginx finds the first by itself ($cookie_...); more than one
// (a stale one beside a fresh one) is rare, and only then is the header split here.
function tokens(r) {
  var first = r.variables['cookie_' + P.cookie];
  if (!first) return [];
  var h = r.variables.http_cookie;
  if (h.indexOf(P.cookie + '=') === h.lastIndexOf(P.cookie + '=')) return [first];
  var out = [];
  var parts = h.split(';');
  for (var i = 0; i < parts.length; i++) {
    var kv = parts[i].trim();
    if (kv.indexOf(P.cookie + '=') === 0) out.push(kv.slice(P.cookie.length + 1));
  }
  return out;
}

// The claims of the first valid session cookie for this host, or null.
function session(r) {
  if (!KEY) return null;
  var list = tokens(r);
  var host = r.variables.host;
  var now = Date.now();
  for (var i = 0; i < list.length; i++) {
    var t = list[i];
    var dot = t.indexOf('${TOKEN.separator}');
    if (dot <= 0) continue;
    var body = t.slice(0, dot);
    var mac = crypto.createHmac('${TOKEN.hmac}', KEY).update(body).digest('${TOKEN.encoding}');
    // A plain comparison, as nginx's own secure_link makes (ngx_memcmp): an HMAC-based constant-
    // time compare costs two more HMACs per request, and a timing difference of nanoseconds in a
    // string comparison is not observable through nginx and the network.
    if (mac !== t.slice(dot + 1)) continue;
    var c;
    try {
      c = JSON.parse(Buffer.from(body, '${TOKEN.encoding}').toString());
    } catch (e) {
      continue;
    }
    // Ids are ours (the token is signed); checked anyway before they become file names.
    if (!(c.${C.expires} > now) || !safeId(c.${C.sessionId}) || !safeId(c.${C.userId}) || typeof c.${C.scope} !== 'string') continue;
    if (host !== c.${C.scope} && !host.endsWith('.' + c.${C.scope})) continue;
    if (exists(P.state + '/${STATE_DIR.revoked}/' + c.${C.sessionId})) continue;
    var userFile = P.state + '/${STATE_DIR.userNotBefore}/' + c.${C.userId};
    if (exists(userFile) && c.${C.issued} < Number(fs.readFileSync(userFile))) continue;
    return c;
  }
  return null;
}

function identify(r, c) {
  r.variables.gh_user = c.${C.username};
  r.variables.gh_uid = c.${C.userId};
  r.variables.gh_email = c.${C.email};
  r.variables.gh_name = c.${C.name};
  r.variables.gh_first = c.${C.firstName};
  r.variables.gh_last = c.${C.lastName};
  r.variables.gh_groups = c.${C.groups}.join(',');
}

function member(c, groups) {
  if (!groups.length) return true;
  for (var i = 0; i < groups.length; i++) if (c.${C.groups}.indexOf(groups[i]) >= 0) return true;
  return false;
}

function hasBasic(r) {
  var a = r.headersIn.Authorization;
  return !!a && a.slice(0, 6).toLowerCase() === 'basic ';
}

function isBrowser(r) {
  var a = r.headersIn.Accept;
  return !!a && a.indexOf('text/html') >= 0;
}

function decide(r) {
  var p = ROUTES[r.variables.gh_policy];
  if (!p) return 'deny';
  var ip;
  if (p.rules) {
    for (var i = 0; i < p.rules.length; i++) {
      var rule = p.rules[i];
      if (rule.path && r.uri.indexOf(rule.path) !== 0) continue;
      if (rule.methods && rule.methods.indexOf(r.method) < 0) continue;
      if (rule.cidrs) {
        if (ip === undefined) ip = parseIp(r.variables.remote_addr);
        if (!inAny(ip, rule.cidrs)) continue;
      }
      return rule.allow ? 'pass' : 'deny';
    }
  }
  if (p.public) return 'pass';
  if (p.ip) {
    if (ip === undefined) ip = parseIp(r.variables.remote_addr);
    if (inAny(ip, p.ip)) return 'pass';
  }
  if (p.links) {
    // A file per admitted address, holding when its link expires.
    var linkFile = P.state + '/${STATE_DIR.links}/' + p.links + '/' + r.variables.remote_addr;
    if (exists(linkFile) && Number(fs.readFileSync(linkFile)) > Date.now()) return 'pass';
  }
  if (p.login) {
    var c = session(r);
    if (c && (!p.login.provider || c.${C.via} === p.login.provider)) {
      if (!member(c, p.login.groups)) return 'deny';
      identify(r, c);
      return 'pass';
    }
  }
  // What needs a round trip: basic credentials (or a client that may send them), an external
  // provider. A browser on a login route goes to the portal instead.
  if (p.forward || (p.basic && (!p.login || hasBasic(r) || !isBrowser(r)))) return 'gate';
  if (p.login) {
    var method = p.login.provider ? '${SIGN_IN.oidcPrefix}' + p.login.provider : '${SIGN_IN.any}';
    if (!P.portal.host || !exists(P.state + '/${STATE_DIR.signIn}/' + method)) return 'unavailable';
    return 'login';
  }
  // Links alone: a visitor without an admitted address is refused (they need the link itself).
  return 'deny';
}

function verdict(r) {
  try {
    return decide(r);
  } catch (e) {
    r.error('gate check failed: ' + e);
    return 'deny';
  }
}

// The port in a Host header as the browser sent it (":8080"), or "" for none. Digits only: anything
// else there ("auth:80@evil.test") would make the portal's URL point elsewhere.
function portOf(hostHeader) {
  var m = /:[0-9]{1,5}$/.exec(hostHeader);
  return m ? m[0] : '';
}

// The portal on the scheme and port the browser used (so that it works behind a port mapping),
// unless public_url says how clients reach us, or the portal has HTTPS and the request has not.
function loginUrl(r) {
  var q = P.portal;
  var hostHeader = r.variables.http_host || '';
  var back, portal;
  if (q.public) {
    back = q.public.scheme + '://' + r.variables.host + q.public.port;
    portal = q.public.scheme + '://' + q.host + q.public.port;
  } else {
    back = r.variables.scheme + '://' + r.variables.host + portOf(hostHeader);
    var https = r.variables.scheme === 'https';
    if (q.https) portal = https ? 'https://' + q.host + portOf(hostHeader) : q.https;
    else portal = https ? q.http : 'http://' + q.host + portOf(hostHeader);
  }
  var p = ROUTES[r.variables.gh_policy];
  var via = p && p.login && p.login.provider ? '&provider=' + p.login.provider : '';
  return portal + '/login?rd=' + encodeURIComponent(back + r.variables.request_uri) + via;
}

export default { verdict, loginUrl };
`;
