import { STATE_NAME_MAX } from '../../model/session.js';

/**
 * Helpers of the gate's Lua check (gate-lua.ts) that do not decide anything: a strict parser for the
 * claims' JSON (Debian's Lua module comes without cjson), IP and CIDR parsing, and a safe-name test.
 * Written to `gate-lib.lua` in each generation and loaded by init_by_lua. Every function returns nil
 * for input it does not understand; the caller treats nil as "no", so the check fails closed.
 */
export const GATE_LIB_LUA = String.raw`local M = {}

local byte, sub, find, char = string.byte, string.sub, string.find, string.char
local concat = table.concat

local ESCAPES = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" }

local function utf8(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xc0 + math.floor(cp / 0x40), 0x80 + cp % 0x40) end
  return char(0xe0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- A JSON string starting at s[pos] == '"': the string and the position after it, or nil.
local function jstring(s, pos)
  local out, i = {}, pos + 1
  while true do
    local j = find(s, '["\\%c]', i)
    if not j then return nil end
    local b = byte(s, j)
    if b < 32 then return nil end
    out[#out + 1] = sub(s, i, j - 1)
    if b == 34 then return concat(out), j + 1 end
    local e = byte(s, j + 1)
    if e == 117 then
      local hex = sub(s, j + 2, j + 5)
      if not find(hex, "^%x%x%x%x$") then return nil end
      out[#out + 1] = utf8(tonumber(hex, 16))
      i = j + 6
    else
      local c = e and ESCAPES[e]
      if not c then return nil end
      out[#out + 1] = c
      i = j + 2
    end
  end
end

local function skip(s, pos)
  return find(s, "[^ \t\r\n]", pos) or #s + 1
end

-- A JSON value: a string, a number, or an array of strings (all that claims hold).
local function jvalue(s, pos)
  local b = byte(s, pos)
  if b == 34 then return jstring(s, pos) end
  if b == 91 then
    local list = {}
    pos = skip(s, pos + 1)
    if byte(s, pos) == 93 then return list, pos + 1 end
    while true do
      if byte(s, pos) ~= 34 then return nil end
      local v, nxt = jstring(s, pos)
      if not v then return nil end
      list[#list + 1] = v
      pos = skip(s, nxt)
      local d = byte(s, pos)
      if d == 93 then return list, pos + 1 end
      if d ~= 44 then return nil end
      pos = skip(s, pos + 1)
    end
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and num ~= "" and num ~= "-" then
    local n = tonumber(num)
    if n then return n, pos + #num end
  end
  return nil
end

-- A flat JSON object (values as jvalue allows), or nil.
function M.object(s)
  if type(s) ~= "string" then return nil end
  local pos = skip(s, 1)
  if byte(s, pos) ~= 123 then return nil end
  local obj = {}
  pos = skip(s, pos + 1)
  if byte(s, pos) == 125 then return skip(s, pos + 1) > #s and obj or nil end
  while true do
    if byte(s, pos) ~= 34 then return nil end
    local k, nxt = jstring(s, pos)
    if not k then return nil end
    pos = skip(s, nxt)
    if byte(s, pos) ~= 58 then return nil end
    local v
    v, nxt = jvalue(s, skip(s, pos + 1))
    if v == nil then return nil end
    obj[k] = v
    pos = skip(s, nxt)
    local d = byte(s, pos)
    if d == 125 then return skip(s, pos + 1) > #s and obj or nil end
    if d ~= 44 then return nil end
    pos = skip(s, pos + 1)
  end
end

-- Ids become keys and file names: the contract's safe names only.
function M.safe_id(id)
  return type(id) == "string" and #id >= 1 and #id <= ${STATE_NAME_MAX} and find(id, "^[A-Za-z0-9_-]+$") ~= nil
end

local function v4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local bytes = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
  for i = 1, 4 do
    if bytes[i] > 255 then return nil end
  end
  return bytes
end

local function split(s, sep)
  local out, start = {}, 1
  while true do
    local i = find(s, sep, start, true)
    if not i then
      out[#out + 1] = sub(s, start)
      return out
    end
    out[#out + 1] = sub(s, start, i - 1)
    start = i + #sep
  end
end

-- An address as a list of bytes (4 or 16), or nil.
function M.parse_ip(s)
  if type(s) ~= "string" then return nil end
  if not find(s, ":", 1, true) then return v4(s) end
  local mapped = s:lower():match("^::ffff:([0-9.]+)$")
  if mapped then return v4(mapped) end
  local halves = split(s, "::")
  if #halves > 2 then return nil end
  local head = halves[1] ~= "" and split(halves[1], ":") or {}
  local tail = (#halves == 2 and halves[2] ~= "") and split(halves[2], ":") or {}
  local fill = #halves == 2 and 8 - #head - #tail or 0
  if fill < 0 or (#halves == 1 and #head ~= 8) then return nil end
  local words = {}
  for _, w in ipairs(head) do words[#words + 1] = w end
  for _ = 1, fill do words[#words + 1] = "0" end
  for _, w in ipairs(tail) do words[#words + 1] = w end
  local bytes = {}
  for _, w in ipairs(words) do
    if not find(w, "^%x%x?%x?%x?$") then return nil end
    local n = tonumber(w, 16)
    bytes[#bytes + 1] = math.floor(n / 256)
    bytes[#bytes + 1] = n % 256
  end
  return bytes
end

-- "a.b.c.d/n" or an address alone; nil when it does not parse (then it matches nothing).
function M.parse_cidr(c)
  local slash = find(c, "/", 1, true)
  local bytes = M.parse_ip(slash and sub(c, 1, slash - 1) or c)
  if not bytes then return nil end
  local bits = slash and tonumber(sub(c, slash + 1)) or #bytes * 8
  if not bits or bits < 0 or bits > #bytes * 8 then return nil end
  return { bytes = bytes, bits = bits }
end

local function in_cidr(ip, net)
  if not ip or not net or #ip ~= #net.bytes then return false end
  local left, i = net.bits, 1
  while left > 0 do
    local keep = left >= 8 and 8 or left
    local unit = 2 ^ (8 - keep)
    if math.floor(ip[i] / unit) ~= math.floor(net.bytes[i] / unit) then return false end
    left, i = left - 8, i + 1
  end
  return true
end

function M.in_any(ip, nets)
  for i = 1, #nets do
    if in_cidr(ip, nets[i]) then return true end
  end
  return false
end

M.split = split
return M
`;
