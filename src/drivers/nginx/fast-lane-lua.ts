import { FAST_LANE_LOAD_LUA } from './fast-lane-load-lua.js';

/**
 * The fast lane inside nginx (LuaJIT through Debian's libnginx-mod-http-lua), written to
 * `fast-lane.lua` in each generation and loaded once by `init_by_lua`. The table (host → scheme,
 * address or pool, offline page; and the HTTP pools, see pools-lua.ts, global `gh_pools`) lives
 * in the shared dict `gh_fast`, under a generation number: a
 * replacement writes the new entries first and then switches `current` in one step, so every worker
 * sees either the old table or the new one, never a mix, and never an empty one. A patch (PATCH:
 * the lines that changed, keys deleted) changes the current generation in place, pools before the
 * hosts that name them and hosts before the pools they named, the version last; it names the
 * version it was made against, and nginx refuses it (409) when it holds another. The state file
 * and the endpoint share one line format (check_line), and every line of a table or a patch is
 * validated before anything is written.
 *
 * Every change to the table ends by bumping the dict's `serial`. Each worker keeps the entries it
 * has parsed (host → scheme, pool, page) in a Lua table of its own while `serial` stays the same,
 * so a request costs one shared-dict read, not three reads and a parse; a new serial empties it.
 */
export const FAST_LANE_LUA = String.raw`local balancer = require "ngx.balancer"
local get_request = require("resty.core.base").get_request

local M = {}
local FIELDS = "^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$"

local function bad(n, field, why)
  return ("line %d: %s %s"):format(n, field, why)
end

-- One line of the table (a pool or a host), as the state file, PUT and PATCH write it: key, value
-- and, for a host, the pool it names (or nil); or nil and what is wrong.
local function check_line(n, line)
  if line:sub(1, 1) == "@" then return gh_pools.parse_line(n, line, bad) end
  local host, scheme, addr, title, msg = line:match(FIELDS)
  if not host then return nil, bad(n, "line", "does not have 5 tab-separated fields") end
  if #host > 253 or not host:find("^[a-z0-9_][a-z0-9_.-]*$") then
    return nil, bad(n, "host", "is not a host name")
  end
  if scheme ~= "http" and scheme ~= "https" then return nil, bad(n, "scheme", "is not http or https") end
  local ip, port = addr:match("^(%d+%.%d+%.%d+%.%d+):(%d+)$")
  if not ip then ip, port = addr:match("^%[([%x:.]+)%]:(%d+)$") end
  port = tonumber(port)
  local pool = addr:match("^(@[%w_-]+)$")
  if pool then
    ip, port = pool, ""
  elseif not ip or not port or port < 1 or port > 65535 then
    return nil, bad(n, "address", "is not IP:port or @pool")
  end
  -- Page text arrives HTML-escaped: markup, quotes and "$" would mean it was not.
  if title == "" or title:find("[%c<>\"'$]") then return nil, bad(n, "title", "is empty or not escaped") end
  if msg:find("[%c<>\"'$]") then return nil, bad(n, "message", "is not escaped") end
  return host, table.concat({ scheme, ip, port, title, msg }, "\t"), pool
end
M.check_line = check_line

local function field_of(key)
  return key:sub(1, 1) == "@" and "pool id" or "host"
end

-- The whole table, checked line by line: version and host -> value, or nil and what is wrong.
function M.parse(text)
  if type(text) ~= "string" or text == "" then return nil, bad(1, "header", "is missing") end
  if text:sub(-1) ~= "\n" then return nil, "the table does not end with a newline" end
  local version, entries, n, refs = nil, {}, 0, {}
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if n == 1 then
      version = line:match("^# gatehouse fast lane ([0-9a-f]+)$")
      if not version then return nil, bad(1, "header", "is not \"# gatehouse fast lane <version>\"") end
    else
      local key, value, pool = check_line(n, line)
      if not key then return nil, value end
      if entries[key] then return nil, bad(n, field_of(key), "is listed twice") end
      entries[key] = value
      if pool then refs[#refs + 1] = { n, pool } end
    end
  end
  for _, ref in ipairs(refs) do
    if not entries[ref[2]] then return nil, bad(ref[1], "address", "names a pool the table lacks") end
  end
  return version, entries
end

-- A change to the table: "# gatehouse fast lane patch <base> <version>", then lines to set (as in
-- the table) and keys to delete ("-host", "-@pool"). Checked whole before anything is written.
function M.parse_patch(text)
  if type(text) ~= "string" or text == "" then return nil, bad(1, "header", "is missing") end
  if text:sub(-1) ~= "\n" then return nil, "the patch does not end with a newline" end
  local p = { sets = {}, dels = {}, refs = {}, lines = {} }
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if n == 1 then
      p.base, p.version = line:match("^# gatehouse fast lane patch ([0-9a-f]+) ([0-9a-f]+)$")
      if not p.base then
        return nil, bad(1, "header", "is not \"# gatehouse fast lane patch <base> <version>\"")
      end
    else
      local key, value, pool
      if line:sub(1, 1) == "-" then
        key = line:sub(2)
        local ok = key:find("^@[%w_-]+$") and #key <= 201
          or #key <= 253 and key:find("^[a-z0-9_][a-z0-9_.-]*$")
        if not ok then return nil, bad(n, "delete", "is not -host or -@pool") end
      else
        key, value, pool = check_line(n, line)
        if not key then return nil, value end
      end
      if p.lines[key] then return nil, bad(n, field_of(key), "is listed twice") end
      p.lines[key] = n
      if value then p.sets[key] = value else p.dels[key] = true end
      if pool then p.refs[#p.refs + 1] = { n, pool } end
    end
  end
  return p
end
local function drop(dict, gen)
  local prefix = gen .. "|"
  for _, key in ipairs(dict:get_keys(0)) do
    if key:sub(1, #prefix) == prefix then dict:delete(key) end
  end
end

-- The version the running nginx holds, or nil.
function M.version()
  return ngx.shared.gh_fast:get("version")
end
function M.bump(dict) dict:incr("serial", 1, 0) end

-- Replaces the table in one step; on failure (memory) the old one stays as it was.
function M.replace(version, entries)
  local dict = ngx.shared.gh_fast
  local gen, err = dict:incr("gen", 1, 0)
  if not gen then return nil, err end
  for host, value in pairs(entries) do
    local ok, serr = dict:safe_set(gen .. "|" .. host, value)
    if not ok then
      drop(dict, gen)
      return nil, "shared memory: " .. tostring(serr)
    end
  end
  local old = dict:get("current")
  local ok, serr = dict:safe_set("current", gen)
  if not ok then
    drop(dict, gen)
    return nil, "shared memory: " .. tostring(serr)
  end
  dict:safe_set("version", version)
  if old then drop(dict, old) end
  M.bump(dict)
  return true
end

-- Applies a parsed patch to the current generation: nil, status and what is wrong when it cannot
-- (409: nginx holds another version than its base; 400: it would leave a host naming a missing
-- pool; 500: shared memory ran out part way, and the version says so: "<base>+partial").
-- Order: pools first, then hosts (deletes before sets), pools deleted last, the version at the end,
-- so a worker reading meanwhile never finds a host whose pool is missing.
function M.patch(p)
  local dict = ngx.shared.gh_fast
  local current = M.version()
  if current ~= p.base then
    return nil, 409, ("the table is at version %s, not %s"):format(tostring(current), p.base)
  end
  local cur = dict:get("current")
  if not cur then return nil, 409, "nginx holds no table" end
  local prefix = cur .. "|"
  local function has(key)
    if p.sets[key] then return true end
    return not p.dels[key] and dict:get(prefix .. key) ~= nil
  end
  for _, ref in ipairs(p.refs) do
    if not has(ref[2]) then return nil, 400, bad(ref[1], "address", "names a pool the table lacks") end
  end
  local gone = {}
  for key in pairs(p.dels) do
    if key:sub(1, 1) == "@" then gone[key] = true end
  end
  if next(gone) then
    -- Only when pools go (a service removed): every host the patch leaves must keep its pool.
    for _, k in ipairs(dict:get_keys(0)) do
      local host = k:sub(1, #prefix) == prefix and k:sub(#prefix + 1)
      if host and host:sub(1, 1) ~= "@" and not p.sets[host] and not p.dels[host] then
        local pool = (dict:get(k) or ""):match("^[^\t]*\t(@[^\t]*)\t")
        if pool and gone[pool] then
          return nil, 400, bad(p.lines[pool], "delete", "removes a pool host " .. host .. " still names")
        end
      end
    end
  end
  local function set(key, value)
    local ok, err = dict:safe_set(prefix .. key, value)
    if ok then return true end
    dict:safe_set("version", p.base .. "+partial")
    M.bump(dict)
    return nil, 500, "shared memory: " .. tostring(err)
  end
  local steps = {
    function(key) return key:sub(1, 1) == "@" and p.sets[key] end,
    function(key) return key:sub(1, 1) ~= "@" and p.dels[key] end,
    function(key) return key:sub(1, 1) ~= "@" and p.sets[key] end,
    function(key) return key:sub(1, 1) == "@" and p.dels[key] end,
  }
  for _, step in ipairs(steps) do
    for key in pairs(p.lines) do
      if step(key) then
        if p.dels[key] then
          dict:delete(prefix .. key)
        else
          local ok, status, err = set(key, p.sets[key])
          if not ok then return nil, status, err end
        end
      end
    end
  end
  local ok, verr = dict:safe_set("version", p.version)
  if not ok then
    dict:safe_set("version", p.base .. "+partial")
    M.bump(dict)
    return nil, 500, "shared memory: " .. tostring(verr)
  end
  M.bump(dict)
  return true
end

${FAST_LANE_LOAD_LUA}
-- This worker's parsed entries (host -> entry) while the dict's serial is cache_serial.
local cache, cache_serial = {}, nil

-- The table's value for host, parsed: scheme, pool (the parsed pool, see pools-lua.ts) or ip and
-- port, title, text (nil for the default one), and route: what M.route answers for it.
local function parse_entry(value, serial)
  local scheme, ip, port, title, msg = value:match(FIELDS)
  local e = { scheme = scheme, route = scheme, title = title, text = msg ~= "" and msg or nil }
  if ip:sub(1, 1) == "@" then
    e.pool_id = ip:sub(2)
    local pool = gh_pools.get(e.pool_id, serial)
    e.pool = pool
    -- A least_conn pool with a choice counts requests in flight: its location releases them in
    -- the log phase, which the others skip (fastLaneOtherConf).
    if pool and pool.lb == "least_conn" and not pool.single and pool.live > 0 then
      e.route = scheme .. "_lc"
    end
  else
    e.ip, e.port = ip, tonumber(port)
  end
  return e
end

-- The entry for host in the table nginx holds now, or nil. Unknown hosts are not cached: a
-- client's made-up Host headers must not fill the worker's memory.
local function entry(host)
  local dict = ngx.shared.gh_fast
  -- Read before the table: a change bumps serial after its switch, so an entry parsed from an
  -- older table is only ever cached under an older serial.
  local serial = dict:get("serial")
  if serial ~= cache_serial then cache, cache_serial = {}, serial end
  local e = cache[host]
  if e then return e end
  local value
  -- A replacement may drop the generation read a moment ago: read once more if it switched.
  for _ = 1, 2 do
    local cur = dict:get("current")
    if not cur then break end
    value = dict:get(cur .. "|" .. host)
    if value or dict:get("current") == cur then break end
  end
  if not value then return nil end
  e = parse_entry(value, serial)
  cache[host] = e
  return e
end

-- The request M.route last found an entry for (its pointer), and that entry.
local routed_r, routed_e

-- set_by_lua of the fast lane's location: the request's host's scheme ("http" or "https", which
-- picks the upstream block; "http_lc" or "https_lc" when its pool counts requests in flight, which
-- its log phase releases), or "" (the location answers 404: set_by_lua cannot). No ngx.ctx (a
-- table per request): the balancer finds the entry in routed_e, or in this worker's cache.
function M.route()
  local e = entry(ngx.var.host)
  if not e then return "" end
  local d = M.decisions
  if d and d.verdict(ngx.var.remote_addr) ~= "" then return "denied" end
  routed_r, routed_e = get_request(), e
  return e.route
end

-- The offline page only (the error path): 0 the host's pool, 1 its title, 2 its text; nil for
-- none (the page's default). The request's context is gone there: the host is looked up again.
function M.page(k)
  local e = entry(ngx.var.host)
  if not e then return nil end
  if k == 0 then return e.pool_id end
  if k == 1 then return e.title end
  return e.text
end

-- balancer_by_lua of the fast lane's location (upstream gh_fast, no Lua before it): a plain-http
-- host's pool (route "http"), else the other routes' server (M.other, a unix socket), whose
-- location decides in its rewrite phase (M.route): an HTTPS upstream, a least_conn pool (its log
-- phase), an unknown host (404).
function M.front()
  local e = entry(ngx.var.host)
  -- An address CrowdSec decided against (decisions-lua.ts, when enforced): the other routes'
  -- server answers it (M.route), as the balancer cannot.
  local d = M.decisions
  if e and e.route == "http" and not (d and d.verdict(ngx.var.remote_addr) ~= "") then
    local pool = e.pool
    if pool then return gh_pools.balance(pool, false) end
    -- A pool the table lacks: no peer, and the placeholder server is down: the offline page.
    if e.pool_id then return end
    local ok, err = balancer.set_current_peer(e.ip, e.port)
    if not ok then ngx.log(ngx.ERR, "fast lane: ", err) end
    return
  end
  local ok, err = balancer.set_current_peer(M.other)
  if not ok then ngx.log(ngx.ERR, "fast lane: ", err) end
end

-- balancer_by_lua of the other routes' upstream blocks (gh_fast_http, gh_fast_https): a fast-lane
-- host's pool (locations that name a pool have blocks of their own, pools-lua.ts:
-- balance_location).
function M.balance()
  -- Routed a moment ago (while a request lives, no other has its address), unless another request
  -- was routed meanwhile (its body read first, say): then looked up again.
  local e
  if get_request() == routed_r then
    e = routed_e
  else
    local host = ngx.var.host
    e = cache[host] or entry(host)
    if not e then return end
  end
  local pool = e.pool
  if pool then
    -- Counted in flight only if the location's log phase releases it (M.route said so).
    local counts = pool.lb == "least_conn" and ngx.var.gh_fast_scheme:sub(-3) == "_lc"
    return gh_pools.balance(pool, counts)
  end
  if e.pool_id then return end
  local ok, err = balancer.set_current_peer(e.ip, e.port)
  -- Without a peer nginx falls back on the placeholder, which is down: the offline page answers.
  if not ok then ngx.log(ngx.ERR, "fast lane: ", err) end
end

-- The root-only endpoint: GET answers the version, PUT replaces the whole table, PATCH changes
-- some of its lines (409 when nginx holds another version than the patch's base).
-- A whole file's text, or nil. Shared by the other modules' loaders (gh_fast loads first).
function M.read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

-- The request's body, from memory or, when nginx buffered it to a file, from there (the status
-- server's endpoints: this table, revocations, decisions).
function M.request_body()
  ngx.req.read_body()
  local text = ngx.req.get_body_data()
  if text then return text end
  local file = ngx.req.get_body_file()
  return file and M.read_file(file)
end

function M.serve()
  local method = ngx.req.get_method()
  if method == "GET" then
    ngx.print(M.version() or "")
    return
  end
  if method ~= "PUT" and method ~= "PATCH" then return ngx.exit(405) end
  local text = M.request_body()
  if method == "PATCH" then
    local p, perr = M.parse_patch(text)
    local ok, status, err = p, 400, perr
    if p then ok, status, err = M.patch(p) end
    if not ok then
      ngx.status = status
      ngx.print(err)
      return
    end
    ngx.print(p.version)
    return
  end
  local version, entries = M.parse(text)
  local ok, err = version, entries
  if version then ok, err = M.replace(version, entries) end
  if not ok then
    ngx.status = version and 500 or 400
    ngx.print(err)
    return
  end
  ngx.print(version)
end

return M
`;
