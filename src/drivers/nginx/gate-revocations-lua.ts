import { STATE_DIR } from '../../model/session.js';

/**
 * Revocations in nginx's shared memory (the dict `gh_revoked`), written to `gate-revocations.lua`
 * in each generation. Keys: `r/<session id>` (that session is revoked) and `u/<user id>` (sessions
 * of that user issued before the value are stale), as in the gate's state files, which stay the
 * truth: init_by_lua reads them all before nginx takes traffic (start, restart after SIGKILL,
 * reload), and the gate sends each new revocation to the status socket before it answers, so the
 * next request on any worker sees it. Every line is validated before anything is written.
 * If the dict cannot hold a revocation, a flag in `gh_revoked_meta` makes the check ask the files
 * too (slower, never wrong).
 */
export const GATE_REVOCATIONS_LUA = String.raw`local ffi = require "ffi"

local M = {}
local C = ffi.C
local lib, STATE
local HEADER = "# gatehouse revocations"
local KINDS = { ["${STATE_DIR.revoked}"] = true, ["${STATE_DIR.userNotBefore}"] = true }

for _, decl in ipairs({
  "typedef struct gh_dir gh_dir;",
  "struct gh_dirent { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[256]; };",
  "gh_dir *opendir(const char *name);",
  "struct gh_dirent *readdir(gh_dir *dir);",
  "int closedir(gh_dir *dir);",
  "int access(const char *path, int mode);",
}) do
  pcall(ffi.cdef, decl)
end

local function read_number(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return tonumber(text)
end

-- Files first: the dict could not take everything, so every check asks the files as well.
local function from_files(c)
  if C.access(STATE .. "/${STATE_DIR.revoked}/" .. c.s, 0) == 0 then return true end
  local nb = read_number(STATE .. "/${STATE_DIR.userNotBefore}/" .. c.u)
  return nb ~= nil and c.i < nb
end

-- Whether the session with these (verified) claims is revoked. Shared memory: no system call.
function M.refuses(c)
  local dict = ngx.shared.gh_revoked
  if dict:get("${STATE_DIR.revoked}/" .. c.s) then return true end
  local nb = dict:get("${STATE_DIR.userNotBefore}/" .. c.u)
  if nb and c.i < nb then return true end
  if ngx.shared.gh_revoked_meta:get("files") then return from_files(c) end
  return false
end

local function bad(n, field, why)
  return ("line %d: %s %s"):format(n, field, why)
end

-- A list of revocations: key -> time, or nil and what is wrong (naming the line and field).
function M.parse(text)
  if type(text) ~= "string" or text == "" then return nil, bad(1, "header", "is missing") end
  if text:sub(-1) ~= "\n" then return nil, "the list does not end with a newline" end
  local entries, n = {}, 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if n == 1 then
      if line ~= HEADER then return nil, bad(1, "header", "is not \"" .. HEADER .. "\"") end
    else
      local kind, id, ms = line:match("^([^ ]*) ([^ ]*) ([^ ]*)$")
      if not kind then return nil, bad(n, "line", "does not have 3 space-separated fields") end
      if not KINDS[kind] then return nil, bad(n, "kind", "is not ${STATE_DIR.revoked} or ${STATE_DIR.userNotBefore}") end
      if not lib.safe_id(id) then return nil, bad(n, "id", "is not a safe name") end
      if not ms:find("^%d+$") or #ms > 16 then return nil, bad(n, "time", "is not a number of ms") end
      entries[kind .. "/" .. id] = tonumber(ms)
    end
  end
  return entries
end

-- What the drift check compares (revocations.ts computes the same from the files): the key of a
-- revoked session (its time never changes), the key and time of a user's limit.
local function sig(key, ms)
  if key:sub(1, 2) == "${STATE_DIR.revoked}/" then return ngx.crc32_long(key) end
  return ngx.crc32_long(key .. " " .. ms)
end

local function store(entries)
  local dict = ngx.shared.gh_revoked
  for key, ms in pairs(entries) do
    local old = dict:get(key)
    if old ~= ms then
      local ok, err = dict:safe_set(key, ms)
      if not ok then
        -- Never evict a revocation: the files decide from now on (until nginx restarts).
        ngx.shared.gh_revoked_meta:set("files", true)
        return nil, "shared memory: " .. tostring(err)
      end
      local meta = ngx.shared.gh_revoked_meta
      if old == nil then meta:incr("count", 1, 0) end
      meta:incr("sum", sig(key, ms) - (old and sig(key, old) or 0), 0)
    end
  end
  return true
end

-- The whole list: what it names is stored, anything else removed.
local function replace(entries)
  local ok, err = store(entries)
  if not ok then return nil, err end
  local dict, meta = ngx.shared.gh_revoked, ngx.shared.gh_revoked_meta
  for _, key in ipairs(dict:get_keys(0)) do
    if entries[key] == nil then
      local old = dict:get(key)
      dict:delete(key)
      if old then
        meta:incr("count", -1, 0)
        meta:incr("sum", -sig(key, old), 0)
      end
    end
  end
  return true
end

local function list_dir(dir)
  local names = {}
  local d = C.opendir(dir)
  if d == nil then return names end
  while true do
    local e = C.readdir(d)
    if e == nil then break end
    names[#names + 1] = ffi.string(e.d_name)
  end
  C.closedir(d)
  return names
end

-- At init (the master, as root, before any worker): every state file, added to what the dict holds
-- (a reload keeps the dict; a revocation sent meanwhile must not be lost).
function M.init(helpers, state_dir)
  lib, STATE = helpers, state_dir
  local entries = {}
  for kind in pairs(KINDS) do
    for _, name in ipairs(list_dir(STATE .. "/" .. kind)) do
      -- Temp files of a write in progress have a dot; the contract's names never do.
      local key = kind .. "/" .. name
      -- A revoked session's time never changes: on a reload, one the dict holds is not read again.
      if lib.safe_id(name) and not (kind == "${STATE_DIR.revoked}" and ngx.shared.gh_revoked:get(key)) then
        local ms = read_number(STATE .. "/" .. key)
        if ms then entries[key] = ms end
      end
    end
  end
  local ok, err = store(entries)
  if not ok then ngx.log(ngx.ERR, "gate revocations: ", err, "; the check reads the files") end
  return M
end

local function body()
  ngx.req.read_body()
  local text = ngx.req.get_body_data()
  if not text then
    local file = ngx.req.get_body_file()
    local f = file and io.open(file, "r")
    if f then
      text = f:read("*a")
      f:close()
    end
  end
  return text
end

-- "<count> <sum of signatures>", and " files" when the dict could not hold them all.
function M.digest()
  local meta = ngx.shared.gh_revoked_meta
  return ("%d %d%s"):format(meta:get("count") or 0, meta:get("sum") or 0, meta:get("files") and " files" or "")
end

-- The root-only endpoint: GET the digest, POST adds, PUT replaces the whole list.
function M.serve()
  local method = ngx.req.get_method()
  if method == "GET" then
    ngx.print(M.digest())
    return
  end
  if method ~= "PUT" and method ~= "POST" then return ngx.exit(405) end
  local entries, err = M.parse(body())
  if not entries then
    ngx.status = 400
    ngx.print(err)
    return
  end
  local ok, serr
  if method == "PUT" then ok, serr = replace(entries) else ok, serr = store(entries) end
  if not ok then
    ngx.status = 500
    ngx.print(serr)
    return
  end
  ngx.print("ok")
end

return M
`;
