/**
 * HTTP upstream pools inside nginx, written to `pools.lua` in each generation and loaded by
 * `init_by_lua` beside the fast lane (fast-lane-lua.ts), whose table also holds the pools: one line
 * `@<name> <scheme> <lb> <peers> <title> <text>` each (pools.ts), peers `IP:port` in order, `/down`
 * marking one taken out (pool suspended, active health check failed), then the route's offline
 * page. Every location that proxies to a pool names it in `$gh_pool`; the balancer here picks the
 * peer per request.
 *
 * - Balancing: round_robin (a counter per worker), least_conn (requests in flight per worker,
 *   released in the log phase), ip_hash (crc32 of the client address), first (the first live peer).
 *   A pool with one live peer has nothing to choose: no ngx.ctx, no bookkeeping (a request's
 *   ngx.ctx costs a table and a registry reference; most pools have one server).
 * - Retries: one more try per other live peer (nginx's proxy_next_upstream decides whether to
 *   retry, as with an upstream block); a request never tries the same peer twice.
 * - Passive health, shared by every worker (dict gh_health), as nginx's max_fails=3
 *   fail_timeout=10s: a failed attempt counts against its peer for 10 s; a peer with 3 is skipped
 *   for 10 s. When every live peer is skipped, they are tried anyway (nginx does so for one peer).
 */
export const POOLS_LUA = String.raw`local balancer = require "ngx.balancer"

local M = {}
local LB = { round_robin = true, least_conn = true, ip_hash = true, first = true }
local MAX_FAILS, FAIL_TIMEOUT = 3, 10

local LINE = "^@([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$"

-- One "@id scheme lb peers title text" line: key and value for the table, or nil and what is wrong.
function M.parse_line(n, line, bad)
  local id, scheme, lb, peers, title, msg = line:match(LINE)
  if not id then return nil, bad(n, "pool", "does not have 6 tab-separated fields") end
  if #id > 200 or not id:find("^[%w_-]+$") then return nil, bad(n, "pool id", "is not an identifier") end
  if scheme ~= "http" and scheme ~= "https" then return nil, bad(n, "scheme", "is not http or https") end
  if not LB[lb] then return nil, bad(n, "lb", "is not round_robin, least_conn, ip_hash or first") end
  if peers == "" then return nil, bad(n, "peers", "are empty") end
  for peer in (peers .. ","):gmatch("([^,]*),") do
    local addr = peer:match("^(.-)/down$") or peer
    local ip, port = addr:match("^(%d+%.%d+%.%d+%.%d+):(%d+)$")
    if not ip then ip, port = addr:match("^%[([%x:.]+)%]:(%d+)$") end
    port = tonumber(port)
    if not ip or not port or port < 1 or port > 65535 then
      return nil, bad(n, "peers", "are not IP:port[/down] separated by commas")
    end
  end
  -- Page text arrives HTML-escaped: markup, quotes and "$" would mean it was not.
  if title == "" or title:find("[%c<>\"'$]") then return nil, bad(n, "title", "is empty or not escaped") end
  if msg:find("[%c<>\"'$]") then return nil, bad(n, "message", "is not escaped") end
  return "@" .. id, table.concat({ scheme, lb, peers, title, msg }, "\t")
end

-- Parsed pools, per worker, while the fast lane's dict has serial cache_serial (fast-lane-lua.ts:
-- every change to the table bumps it).
local cache, cache_serial = {}, nil

local function parse_value(id, value)
  local scheme, lb, list, title, msg = value:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
  local pool = { id = id, scheme = scheme, lb = lb, peers = {}, live = 0, rr = 0, busy = {} }
  pool.page = { title, msg ~= "" and msg or nil }
  for peer in (list .. ","):gmatch("([^,]*),") do
    local addr = peer:match("^(.-)/down$")
    local down = addr ~= nil
    addr = addr or peer
    local ip, port = addr:match("^%[?([^%]]+)%]?:(%d+)$")
    -- key: the peer's entry in gh_health, made once here rather than per request.
    local key = id .. "|" .. addr
    pool.peers[#pool.peers + 1] = { addr = addr, ip = ip, port = tonumber(port), down = down, key = key }
    if not down then pool.live = pool.live + 1 end
  end
  if pool.live == 1 then
    for _, p in ipairs(pool.peers) do
      if not p.down then pool.single = p end
    end
  end
  return pool
end

-- The pool named id in the table nginx holds now, or nil. serial: the dict's, when the caller has
-- just read it.
function M.get(id, serial)
  if not id or id == "" then return nil end
  local dict = ngx.shared.gh_fast
  if serial == nil then serial = dict:get("serial") end
  if serial ~= cache_serial then cache, cache_serial = {}, serial end
  local pool = cache[id]
  if pool then return pool end
  for _ = 1, 2 do
    local cur = dict:get("current")
    if not cur then return nil end
    local value = dict:get(cur .. "|@" .. id)
    if value then
      pool = parse_value(id, value)
      cache[id] = pool
      return pool
    end
    -- A replacement may have dropped the generation read a moment ago: read once more if so.
    if dict:get("current") == cur then return nil end
  end
end

local function skipped(peer)
  return (ngx.shared.gh_health:get(peer.key) or 0) >= MAX_FAILS
end

-- A failed attempt (refused, broken off, timed out) against a peer, seen by every worker.
function M.failed(id, addr)
  local health = ngx.shared.gh_health
  local key = id .. "|" .. addr
  local n = health:incr(key, 1, 0, FAIL_TIMEOUT)
  -- The third failure takes the peer out for a full fail_timeout from now.
  if n == MAX_FAILS then health:set(key, n, FAIL_TIMEOUT) end
end

-- The peer to try: live, not tried yet in this request, not skipped unless all are.
local function pick(pool, tried)
  local peers, n = pool.peers, #pool.peers
  local start = 1
  if pool.lb == "round_robin" or pool.lb == "least_conn" then
    -- least_conn too: among peers as busy, the next in turn.
    pool.rr = pool.rr % n + 1
    start = pool.rr
  elseif pool.lb == "ip_hash" then
    start = ngx.crc32_short(ngx.var.remote_addr or "") % n + 1
  end
  for pass = 1, 2 do
    local best, best_busy
    for k = 0, n - 1 do
      local i = (start + k - 1) % n + 1
      local p = peers[i]
      if not p.down and not tried[i] and (pass == 2 or not skipped(p)) then
        if pool.lb ~= "least_conn" then return i end
        local b = pool.busy[i] or 0
        if not best or b < best_busy then best, best_busy = i, b end
      end
    end
    if best then return best end
  end
end

-- Requests in flight counted in this worker, over every pool object (those of older tables too):
-- while it is 0 the log phase has nothing to release and leaves ngx.ctx alone.
local inflight = 0

local function release(pool, i)
  local b = pool.busy[i]
  if b and b > 0 then
    pool.busy[i] = b - 1
    inflight = inflight - 1
  end
end

-- A retried request had a failed attempt: the failure log takes it without evaluating its
-- condition (access-logs.ts). The variable exists only where that log is on.
local function mark_retried()
  ngx.var.gh_upstream_failed = "1"
end

-- Another attempt in the same request: the last one failed (or its kept-alive connection was
-- closed). It counts against its peer, is no longer in flight, and the failure log is told.
function M.retry(ctx, pool)
  pcall(mark_retried)
  local last = ctx.gh_last
  if last then
    if balancer.get_last_failure() == "failed" then M.failed(pool.id, pool.peers[last].addr) end
    if ctx.gh_count then release(pool, last) end
  end
  -- A location's pool is named in $gh_pool, a fast-lane host's only on the error path: the failure
  -- log names it for this request too. (Written, not read: the fast lane's location does not set
  -- it, and reading it unset would warn; a location's is the same id.)
  ngx.var.gh_pool = pool.id
end

local function set_peer(pool, peer)
  local ok, err = balancer.set_current_peer(peer.ip, peer.port)
  if not ok then ngx.log(ngx.ERR, "pool ", pool.id, ": ", err) end
end

-- balancer_by_lua for a request's pool (nil: none): the fast lane's host's, or the one its location
-- names in $gh_pool. counts: whether the request's location releases a least_conn peer in its log
-- phase (M.done); only then is it counted in flight.
function M.balance(pool, counts)
  -- nil on a request's first attempt; after a failed one (or a closed kept-alive connection), what
  -- became of it.
  local again = balancer.get_last_failure()
  -- One live peer: nothing to choose and no other peer to retry (passive health would try it
  -- anyway), so no bookkeeping and no ngx.ctx: a failure is counted by the offline page's log
  -- phase.
  if not again and pool and pool.single then return set_peer(pool, pool.single) end
  local ctx = ngx.ctx
  local tried = ctx.gh_tried
  if tried then
    -- Another attempt: with the pool of the first (the table may have changed since).
    pool = ctx.gh_pool
    M.retry(ctx, pool)
  elseif not pool then
    -- No pool: no peer set, and the placeholder server is down: 502, the offline page.
    return
  elseif pool.single then
    -- Another attempt at the one peer (a closed kept-alive connection: on a new connection). The
    -- failure log is told.
    if again then pcall(mark_retried) end
    return set_peer(pool, pool.single)
  else
    tried = {}
    ctx.gh_pool, ctx.gh_tried = pool, tried
    ctx.gh_count = counts and pool.lb == "least_conn"
    -- The placeholder server is down, so nginx counts no try of its own: one per live peer.
    -- (nginx makes the first attempt whatever the count: one peer needs none.)
    if pool.live > 1 then balancer.set_more_tries(pool.live) end
  end
  local i = pick(pool, tried)
  ctx.gh_last = i
  if not i then return end
  tried[i] = true
  if ctx.gh_count then
    pool.busy[i] = (pool.busy[i] or 0) + 1
    inflight = inflight + 1
  end
  set_peer(pool, pool.peers[i])
end

-- balancer_by_lua of the upstream blocks of locations that name their pool in $gh_pool.
function M.balance_location()
  return M.balance(M.get(ngx.var.gh_pool), true)
end

-- The offline page of the request's pool: 1 its title, 2 its text; nil for none (the default).
function M.page(k)
  local pool = M.get(ngx.var.gh_pool)
  return pool and pool.page[k]
end

-- log_by_lua of a proxying location whose request may be counted in flight (least_conn): it is no
-- longer. Nothing counted in this worker: nothing to release, and no ngx.ctx made for nothing.
function M.done()
  if inflight == 0 then return end
  local ctx = ngx.ctx
  local i = ctx.gh_last
  if i and ctx.gh_count then release(ctx.gh_pool, i) end
end

-- log_by_lua of the offline page (the request's context is gone after the redirect to it): the
-- last attempt failed; it counts against its peer, and is no longer in flight.
function M.offline()
  local id = ngx.var.gh_pool
  if not id or id == "" then return end
  local addrs, statuses = ngx.var.upstream_addr or "", ngx.var.upstream_status or ""
  local addr = addrs:match("([^%s,]+)$")
  local status = statuses:match("(%d+)$")
  local pool = M.get(id)
  if not pool or not addr or (status ~= "502" and status ~= "504") then return end
  -- Only a peer of the pool: "no live upstreams" names the upstream block instead.
  for i, p in ipairs(pool.peers) do
    if p.addr == addr then
      M.failed(id, addr)
      if pool.lb == "least_conn" then release(pool, i) end
      return
    end
  end
end

return M
`;
