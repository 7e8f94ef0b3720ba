import { API_KEY } from '../../model/api-key.js';
import {
  CLAIM,
  SESSION_KEY_ENV,
  SESSION_KEY_PREVIOUS_ENV,
  SIGN_IN,
  STATE_DIR,
  TOKEN,
} from '../../model/session.js';

const C = CLAIM;

/**
 * The gate's check inside nginx (LuaJIT through Debian's Lua module), written to `gate.lua` in each
 * generation and loaded once by init_by_lua with that generation's policy table (`gate-policies.lua`,
 * rendered by gate.ts). `verdict()` answers `$gh_verdict` (set_by_lua) for the route named by
 * `$gh_policy`: pass | deny (403) | login (401: portal redirect or 401) | unavailable (503) | gate
 * (a round trip to the gate: basic credentials, forward auth).
 *
 * Sessions are HMAC-SHA256-signed cookies, computed by the OpenSSL nginx already links (LuaJIT
 * FFI); the key comes from the environment, never from a file. A verified token's claims are kept
 * per worker (lrucache), so a request with a known session costs a table lookup, not an HMAC and a
 * JSON parse; expiry, scope and revocation are checked on every request all the same. Revocations
 * live in shared memory (gate-revocations-lua.ts), so every worker sees one at once. Every name and
 * format shared with the gate is interpolated from model/session.ts.
 * Anything unexpected answers deny: the check fails closed.
 */
export const GATE_LUA = String.raw`local ffi = require "ffi"
local base64 = require "ngx.base64"
local lrucache = require "resty.lrucache"

local M = {}
local C = ffi.C
local lib, revoked, P, ROUTES, KEY, SHA256
-- After a session-key rotation: the previous key verifies (never signs) until PREV_UNTIL (ms).
local PREV, PREV_UNTIL
local find, sub = string.find, string.sub

for _, decl in ipairs({
  "typedef struct evp_md_st gh_evp_md;",
  "const gh_evp_md *EVP_sha256(void);",
  "unsigned char *HMAC(const gh_evp_md *md, const void *key, int key_len, const unsigned char *d, size_t n, unsigned char *out, unsigned int *out_len);",
  "int access(const char *path, int mode);",
  "int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const gh_evp_md *type, void *impl);",
}) do
  -- Declared once per Lua state; a second declaration (another module's) is not an error here.
  pcall(ffi.cdef, decl)
end

local mac_buf = ffi.new("unsigned char[64]")
local mac_len = ffi.new("unsigned int[1]")
-- Verified tokens' claims, per worker: a valid session skips the HMAC and the parse. A miss costs
-- only that (a few µs), so the cache stays small (~1 KB an entry).
local verified = lrucache.new(4096)

local function mac(key, body)
  if C.HMAC(SHA256, key, #key, body, #body, mac_buf, mac_len) == nil then return nil end
  return base64.encode_base64url(ffi.string(mac_buf, mac_len[0]))
end

local function digest(data)
  if C.EVP_Digest(data, #data, mac_buf, mac_len, SHA256, nil) ~= 1 then return nil end
  return base64.encode_base64url(ffi.string(mac_buf, mac_len[0]))
end

local function exists(path)
  return C.access(path, 0) == 0
end

local function read_text(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

local function strings(list)
  if type(list) ~= "table" then return false end
  for i = 1, #list do
    if type(list[i]) ~= "string" then return false end
  end
  return true
end

-- The claims of a well-signed token, checked for every field the check and the headers use.
local function claims_of(token)
  local dot = find(token, "${TOKEN.separator}", 1, true)
  if not dot or dot == 1 then return nil end
  local c = verified:get(token)
  if c then return c end
  local body = sub(token, 1, dot - 1)
  -- A plain comparison, as nginx's own secure_link makes: a timing difference of nanoseconds in a
  -- string comparison is not observable through nginx and the network.
  local sig = sub(token, dot + 1)
  if mac(KEY, body) ~= sig and not (PREV and ngx.now() * 1000 < PREV_UNTIL and mac(PREV, body) == sig) then
    return nil
  end
  c = lib.object(base64.decode_base64url(body))
  if not c or type(c.${C.expires}) ~= "number" or type(c.${C.issued}) ~= "number" or not lib.safe_id(c.${C.sessionId})
    or not lib.safe_id(c.${C.userId}) or type(c.${C.scope}) ~= "string" or type(c.${C.via}) ~= "string" or not strings(c.${C.groups}) then
    return nil
  end
  for _, k in ipairs({ "${C.username}", "${C.email}", "${C.name}", "${C.firstName}", "${C.lastName}" }) do
    if type(c[k]) ~= "string" then return nil end
  end
  c.group_set, c.group_list = {}, table.concat(c.${C.groups}, ",")
  for _, g in ipairs(c.${C.groups}) do c.group_set[g] = true end
  verified:set(token, c, (c.${C.expires} - ngx.now() * 1000) / 1000)
  return c
end

-- The session cookies after the first (a stale one beside a fresh one): asked for only when the
-- first does not pass, which keeps the common request to the one cookie nginx found by itself.
local function more_tokens()
  local h = ngx.var.http_cookie or ""
  local needle = P.cookie .. "="
  local out, seen = {}, 0
  for _, part in ipairs(lib.split(h, ";")) do
    local kv = part:match("^%s*(.-)%s*$")
    if sub(kv, 1, #needle) == needle then
      seen = seen + 1
      if seen > 1 then out[#out + 1] = sub(kv, #needle + 1) end
    end
  end
  return out
end

-- The claims of a session token if it passes for this host now, or nil.
local function passes(token, host, now)
  local c = claims_of(token)
  if not c or c.${C.expires} <= now then return nil end
  local d = c.${C.scope}
  if host ~= d and not (#host > #d and sub(host, -#d - 1) == "." .. d) then return nil end
  if revoked.refuses(c) then return nil end
  return c
end

-- The claims of the first valid session cookie for this host, or nil.
local function session()
  if KEY == "" then return nil end
  local first = ngx.var["cookie_" .. P.cookie]
  if not first or first == "" then return nil end
  local host = ngx.var.host
  local now = ngx.now() * 1000
  local c = passes(first, host, now)
  if c then return c end
  for _, t in ipairs(more_tokens()) do
    c = passes(t, host, now)
    if c then return c end
  end
  return nil
end

-- An nginx variable is writable only if the config reads it somewhere (identity headers, a per-user
-- rate limit): the first failed write says it is not, for this config, in this worker.
local unwritable = {}
local function set_var(name, value)
  ngx.var[name] = value
end
local function put(name, value)
  if unwritable[name] then return end
  if not pcall(set_var, name, value) then unwritable[name] = true end
end

local function identify(c)
  put("gh_user", c.${C.username})
  put("gh_uid", c.${C.userId})
  put("gh_email", c.${C.email})
  put("gh_name", c.${C.name})
  put("gh_first", c.${C.firstName})
  put("gh_last", c.${C.lastName})
  put("gh_groups", c.group_list)
end

local function member(c, groups)
  if #groups == 0 then return true end
  for i = 1, #groups do
    if c.group_set[groups[i]] then return true end
  end
  return false
end

local function has_basic()
  local a = ngx.var.http_authorization
  return a ~= nil and a:sub(1, 6):lower() == "basic "
end

local function is_browser()
  local a = ngx.var.http_accept
  return a ~= nil and find(a, "text/html", 1, true) ~= nil
end

-- Whether every header condition of a rule holds. A pattern nginx cannot run to its end (PCRE's
-- match limit) counts as a match for a deny rule and as none for an allow rule: never a pass.
local function headers_hold(var, rule)
  for j = 1, #rule.headers do
    local h = rule.headers[j]
    local v = var[h.var]
    local ok
    if h.present ~= nil then
      ok = (v ~= nil) == h.present
    elseif h.equals then
      ok = v == h.equals
    elseif v == nil then
      ok = false
    else
      local from, _, err = ngx.re.find(v, h.regex, "jo")
      if err then return not rule.allow end
      ok = from ~= nil
    end
    if not ok then return false end
  end
  return true
end

-- The API key a request carries for this route: the route's header, or Authorization: Bearer.
local function presented_key(var, k)
  if k.var then return var[k.var] end
  local a = var.http_authorization
  if a and #a > 7 and sub(a, 1, 7):lower() == "${API_KEY.scheme.toLowerCase()} " then return (a:sub(8):match("^%s*(.-)%s*$")) end
  return nil
end

-- "pass" (its identity set), "deny" (a user's key whose groups the route does not admit), "bad"
-- (a key of ours that does not open this route now), or nil when the request carries none.
local function api_key(var, p)
  local token = presented_key(var, p.api_keys)
  if not token or sub(token, 1, ${API_KEY.prefix.length}) ~= "${API_KEY.prefix}" then return nil end
  local id = token:match("^${API_KEY.prefix}(${'%x'.repeat(API_KEY.idHexDigits)})_[A-Za-z0-9_-]+$")
  if not id then return "bad" end
  -- The file exists only for the services the key opens, while it is live.
  local text = read_text(P.state .. "/${STATE_DIR.apiKeys}/" .. p.api_keys.service .. "/" .. id)
  local until_ms, hash, who = (text or ""):match("^(%d+) ([A-Za-z0-9_-]+) ([A-Za-z0-9_-]+)$")
  if not until_ms then return "bad" end
  until_ms = tonumber(until_ms)
  if until_ms ~= 0 and until_ms <= ngx.now() * 1000 then return "bad" end
  if digest(token) ~= hash then return "bad" end
  local c = lib.object(base64.decode_base64url(who))
  if not c or not lib.safe_id(c.${C.userId}) or not strings(c.${C.groups}) then return "bad" end
  for _, f in ipairs({ "${C.username}", "${C.email}", "${C.name}", "${C.firstName}", "${C.lastName}" }) do
    if type(c[f]) ~= "string" then return "bad" end
  end
  c.group_set, c.group_list = {}, table.concat(c.${C.groups}, ",")
  for _, g in ipairs(c.${C.groups}) do c.group_set[g] = true end
  -- A user's key is that user: a route's groups apply. A service's key was scoped by an admin.
  if c.t == "u" and p.login and not member(c, p.login.groups) then return "deny" end
  identify(c)
  -- The key is Gatehouse's credential, not the upstream's: it goes no further.
  ngx.req.clear_header(p.api_keys.name or "Authorization")
  return "pass"
end

-- Whether a rule's GeoIP conditions hold for the client. Without the database they would never
-- be known: such a rule counts as matching when it denies and as not matching when it allows.
local function geo_holds(var, rule)
  if rule.countries or rule.not_countries then
    if not P.geoip.country then return not rule.allow end
    local c = var.gh_country or "-"
    if rule.countries and not rule.countries[c] then return false end
    if rule.not_countries and rule.not_countries[c] then return false end
  end
  if rule.asns then
    if not P.geoip.asn then return not rule.allow end
    if not rule.asns[tonumber(var.gh_asn) or 0] then return false end
  end
  return true
end

local function decide()
  local var = ngx.var
  local p = ROUTES[var.gh_policy]
  if not p then return "deny" end
  local ip
  if p.rules then
    for i = 1, #p.rules do
      local rule = p.rules[i]
      local applies = (not rule.path or sub(var.uri, 1, #rule.path) == rule.path)
        and (not rule.methods or rule.methods[var.request_method])
      if applies and rule.cidrs then
        ip = ip or lib.parse_ip(var.remote_addr)
        applies = lib.in_any(ip, rule.cidrs)
      end
      if applies and rule.headers then applies = headers_hold(var, rule) end
      if applies and rule.geo then applies = geo_holds(var, rule) end
      if applies then return rule.allow and "pass" or "deny" end
    end
  end
  if p.public then return "pass" end
  if p.ip then
    ip = ip or lib.parse_ip(var.remote_addr)
    if lib.in_any(ip, p.ip) then return "pass" end
  end
  if p.links then
    -- A file per admitted address: when its link expires, and the link's bandwidth if it has one.
    local text = read_text(P.state .. "/${STATE_DIR.links}/" .. p.links .. "/" .. var.remote_addr)
    local until_ms, rate = (text or ""):match("^(%d+) ?(%d*)$")
    if until_ms and tonumber(until_ms) > ngx.now() * 1000 then
      rate = tonumber(rate)
      if rate then
        -- The stricter of the link's and the route's own (limits.bandwidth).
        local current = tonumber(var.limit_rate) or 0
        if current == 0 or rate < current then var.limit_rate = rate end
      end
      return "pass"
    end
  end
  if p.api_keys then
    local k = api_key(var, p)
    if k == "pass" or k == "deny" then return k end
    -- A key that does not pass is refused as such: never a portal redirect, never another method.
    if k == "bad" then return "bearer" end
  end
  if p.login then
    local c = session()
    if c and (not p.login.provider or c.${C.via} == p.login.provider) then
      if not member(c, p.login.groups) then return "deny" end
      identify(c)
      return "pass"
    end
  end
  -- What needs a round trip: basic credentials (or a client that may send them), an external
  -- provider. A browser on a login route goes to the portal instead.
  if p.forward or (p.basic and (not p.login or has_basic() or not is_browser())) then return "gate" end
  if p.login then
    local method = p.login.provider and ("${SIGN_IN.oidcPrefix}" .. p.login.provider) or "${SIGN_IN.any}"
    if P.portal.host == "" or not exists(P.state .. "/${STATE_DIR.signIn}/" .. method) then return "unavailable" end
    return "login"
  end
  -- API keys: a client without one is told what it lacks.
  if p.api_keys then return "bearer" end
  -- Links alone: a visitor without an admitted address is refused (they need the link itself).
  return "deny"
end

function M.verdict()
  local ok, v = pcall(decide)
  if ok then return v end
  ngx.log(ngx.ERR, "gate check failed: ", v)
  return "deny"
end

-- The port in a Host header as the browser sent it (":8080"), or "" for none. Digits only: anything
-- else there ("auth:80@evil.test") would make the portal's URL point elsewhere.
local function port_of(host_header)
  return host_header:match("(:%d%d?%d?%d?%d?)$") or ""
end

-- The portal on the scheme and port the browser used (so that it works behind a port mapping),
-- unless public_url says how clients reach us, or the portal has HTTPS and the request has not.
function M.login_url()
  local var, q = ngx.var, P.portal
  local host_header = var.http_host or ""
  local back, portal
  if q.public then
    back = q.public.scheme .. "://" .. var.host .. q.public.port
    portal = q.public.scheme .. "://" .. q.host .. q.public.port
  else
    back = var.scheme .. "://" .. var.host .. port_of(host_header)
    local https = var.scheme == "https"
    if q.https then
      portal = https and ("https://" .. q.host .. port_of(host_header)) or q.https
    else
      portal = https and q.http or ("http://" .. q.host .. port_of(host_header))
    end
  end
  local p = ROUTES[var.gh_policy]
  local via = (p and p.login and p.login.provider) and ("&provider=" .. p.login.provider) or ""
  return portal .. "/login?rd=" .. ngx.escape_uri(back .. var.request_uri) .. via
end

local function cidrs(list)
  local out = {}
  for i, c in ipairs(list) do
    -- A CIDR that does not parse matches nothing (the model validated them: this does not happen).
    out[i] = lib.parse_cidr(c) or false
  end
  return out
end

-- At init (master, before any worker): the policy table parsed once; the key from the environment.
function M.init(policies, helpers, revocations)
  lib, revoked, P = helpers, revocations, policies
  KEY = os.getenv("${SESSION_KEY_ENV}") or ""
  local until_ms, prev = (os.getenv("${SESSION_KEY_PREVIOUS_ENV}") or ""):match("^(%d+) (%S+)$")
  if prev then PREV, PREV_UNTIL = prev, tonumber(until_ms) end
  SHA256 = C.EVP_sha256()
  ROUTES = {}
  for id, p in pairs(P.routes) do
    local methods
    local rules
    if p.rules then
      rules = {}
      for i, r in ipairs(p.rules) do
        if #r.methods > 0 then
          methods = {}
          for _, m in ipairs(r.methods) do methods[m] = true end
        else
          methods = nil
        end
        local headers
        if r.headers and #r.headers > 0 then
          headers = {}
          for j, h in ipairs(r.headers) do
            -- nginx's variable for a request header: $http_ and the name, "-" as "_".
            headers[j] = { var = "http_" .. (h.name:gsub("-", "_")), present = h.present, equals = h.equals, regex = h.regex }
          end
        end
        local function set(list)
          if not list then return nil end
          local out = {}
          for _, v in ipairs(list) do out[v] = true end
          return out
        end
        rules[i] = {
          geo = (r.countries or r.notCountries or r.asns) and true or nil,
          countries = set(r.countries),
          not_countries = set(r.notCountries),
          asns = set(r.asns),
          allow = r.action == "allow",
          cidrs = #r.cidrs > 0 and cidrs(r.cidrs) or nil,
          path = r.path,
          methods = methods,
          headers = headers,
        }
      end
    end
    ROUTES[id] = {
      public = p.public == true,
      login = p.login and { provider = p.login.provider, groups = p.login.groups or {} } or nil,
      links = p.links,
      api_keys = p.api_keys,
      basic = p.basic == true,
      forward = p.forward == true,
      ip = p.ip and cidrs(p.ip) or nil,
      rules = rules,
    }
  end
  return M
end

return M
`;
