/**
 * CrowdSec's decisions in nginx's shared memory (dict `gh_decisions`), written to `decisions.lua`
 * in each generation and loaded by init_by_lua with the decisions file (decisions.ts), which stays
 * the truth: nginx reads it before it takes traffic, and Gatehouse sends the whole list to the
 * status socket whenever it changes. A key is a network: `<4|6>/<prefix length>/<its first
 * ceil(length/8) bytes in hex, masked>`, valued with the decision's type and kept until it expires
 * (the dict's own expiry). A lookup tries each prefix length the list holds, longest first: a few
 * dict reads, whatever the number of decisions; each worker keeps its answers per address in a
 * plain table until the list changes (a version in `gh_decisions_meta`, which a timer in each
 * worker reads every 100 ms: no shared-memory read on the common path) or the decision expires.
 */
export const DECISIONS_LUA = String.raw`local ffi = require "ffi"
local bit = require "bit"

local M = {}
local HEADER = "# gatehouse decisions "
local TYPES = { ban = true, captcha = true }
local AF = { ["4"] = 2, ["6"] = 10 }

pcall(ffi.cdef, "int inet_pton(int af, const char *src, void *dst);")
local addr_buf = ffi.new("uint8_t[16]")
local HEX = {}
for i = 0, 255 do HEX[i] = ("%02x"):format(i) end

-- Per worker: address -> false (no decision) or { type, until }, for the list version "seen"
-- (emptied when it changes, or grows past MAX_ANSWERS). "version": the dict's, read by the timer.
local MAX_ANSWERS = 20000
local answers, count, seen, version = {}, 0, -1, 0

local function bad(n, field, why)
  return ("line %d: %s %s"):format(n, field, why)
end

-- The address's family and its bytes in hex (nil for what is not an address). An IPv4-mapped IPv6
-- address is its IPv4 one.
local function hex_of(addr)
  local fam = addr:find(":", 1, true) and "6" or "4"
  if ffi.C.inet_pton(AF[fam], addr, addr_buf) ~= 1 then return nil end
  local n, from = fam == "4" and 4 or 16, 0
  if fam == "6" then
    local mapped = addr_buf[10] == 255 and addr_buf[11] == 255
    for i = 0, 9 do if addr_buf[i] ~= 0 then mapped = false break end end
    if mapped then fam, n, from = "4", 4, 12 end
  end
  local parts = {}
  for i = from, from + n - 1 do parts[#parts + 1] = HEX[addr_buf[i]] end
  return fam, table.concat(parts)
end

-- The key of the network of that prefix length holding the address (hex: its bytes).
local function key_of(fam, hex, len)
  local full, rest = math.floor(len / 8), len % 8
  local k = hex:sub(1, full * 2)
  if rest > 0 then
    local byte = tonumber(hex:sub(full * 2 + 1, full * 2 + 2), 16)
    k = k .. HEX[bit.band(byte, bit.band(bit.lshift(0xff, 8 - rest), 0xff))]
  end
  return fam .. "/" .. len .. "/" .. k
end

local function refresh()
  version = ngx.shared.gh_decisions_meta:get("v") or 0
end

-- init_worker: the list's version, now and every 100 ms (a change reaches a worker within that).
function M.worker()
  refresh()
  local ok, err = ngx.timer.every(0.1, refresh)
  if not ok then ngx.log(ngx.ERR, "decisions: no timer: ", err) end
end

-- "" (no decision) or the decision's type for the client address.
function M.verdict(addr)
  if not addr then return "" end
  if seen ~= version or count >= MAX_ANSWERS then
    answers, count, seen = {}, 0, version
  end
  local known = answers[addr]
  if known == false then return "" end
  if known and known[2] > ngx.now() then return known[1] end
  local fam, hex = hex_of(addr)
  local found, ttl = "", 0
  if fam then
    local dict, meta = ngx.shared.gh_decisions, ngx.shared.gh_decisions_meta
    for len in (meta:get("l" .. fam) or ""):gmatch("%d+") do
      local key = key_of(fam, hex, tonumber(len))
      local v = dict:get(key)
      if v then
        found, ttl = v, dict:ttl(key) or 0
        break
      end
    end
  end
  if known == nil then count = count + 1 end
  answers[addr] = found ~= "" and { found, ngx.now() + ttl } or false
  return found
end

-- A list: the version and key -> { type, seconds left }, or nil and what is wrong (line, field).
function M.parse(text, now)
  if type(text) ~= "string" or text == "" then return nil, bad(1, "header", "is missing") end
  if text:sub(-1) ~= "\n" then return nil, "the list does not end with a newline" end
  local entries, version, n = {}, nil, 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if n == 1 then
      if line:sub(1, #HEADER) ~= HEADER then return nil, bad(1, "header", "is not \"" .. HEADER .. "<version>\"") end
      version = line:sub(#HEADER + 1)
      if not version:find("^[0-9a-f]+$") then return nil, bad(1, "version", "is not hex") end
    else
      local fam, len, net, kind, untl = line:match("^([46]) (%d+) (%x*) (%a+) (%d+)$")
      if not fam then return nil, bad(n, "line", "is not \"<4|6> <length> <network hex> <type> <until>\"") end
      len = tonumber(len)
      if len > (fam == "4" and 32 or 128) then return nil, bad(n, "length", "is too long") end
      if #net ~= math.ceil(len / 8) * 2 then return nil, bad(n, "network", "does not match its length") end
      if not TYPES[kind] then return nil, bad(n, "type", "is not ban or captcha") end
      local left = tonumber(untl) - now
      if left > 0 then
        local key = fam .. "/" .. len .. "/" .. net
        local old = entries[key]
        -- A ban outweighs a captcha; the later end outlasts.
        if not old or (kind == "ban" and old[1] ~= "ban") or (kind == old[1] and left > old[2]) then
          entries[key] = { kind, left }
        end
      end
    end
  end
  return entries, version
end

-- The whole list: what it names is stored (until it expires), anything else removed; the prefix
-- lengths to try, longest first; a new version (every worker's answers are stale).
local function replace(entries, version)
  local dict, meta = ngx.shared.gh_decisions, ngx.shared.gh_decisions_meta
  local lens = { ["4"] = {}, ["6"] = {} }
  for key, e in pairs(entries) do
    local ok, err = dict:safe_set(key, e[1], e[2])
    if not ok then return nil, "shared memory: " .. tostring(err) end
    local fam, len = key:match("^(%d)/(%d+)/")
    lens[fam][tonumber(len)] = true
  end
  for _, key in ipairs(dict:get_keys(0)) do
    if entries[key] == nil then dict:delete(key) end
  end
  for fam, set in pairs(lens) do
    local list = {}
    for len in pairs(set) do list[#list + 1] = len end
    table.sort(list, function(a, b) return a > b end)
    meta:set("l" .. fam, table.concat(list, ","))
  end
  meta:set("version", version)
  meta:incr("v", 1, 0)
  -- This worker sees it at once (the others within 100 ms).
  refresh()
  return true
end

-- At init (before any worker): the file's list, unless the dict holds that version already (a reload).
function M.init(file)
  local text = gh_fast.read_file(file)
  if not text then return M end
  local entries, version = M.parse(text, ngx.time())
  if not entries then
    ngx.log(ngx.ERR, "decisions: ", file, ": ", version)
    return M
  end
  if ngx.shared.gh_decisions_meta:get("version") == version then return M end
  local ok, err = replace(entries, version)
  if not ok then ngx.log(ngx.ERR, "decisions: ", err) end
  return M
end

-- The root-only endpoint: GET the version held, PUT replaces the whole list.
function M.serve()
  local method = ngx.req.get_method()
  if method == "GET" then
    ngx.print(ngx.shared.gh_decisions_meta:get("version") or "")
    return
  end
  if method ~= "PUT" then return ngx.exit(405) end
  local entries, version = M.parse(gh_fast.request_body(), ngx.time())
  if not entries then
    ngx.status = 400
    ngx.print(version)
    return
  end
  local ok, err = replace(entries, version)
  if not ok then
    ngx.status = 500
    ngx.print(err)
    return
  end
  ngx.print("ok")
end

return M
`;
