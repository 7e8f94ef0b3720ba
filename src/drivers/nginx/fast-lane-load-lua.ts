/**
 * The part of the fast lane's Lua module (fast-lane-lua.ts, which places it after M.patch) that
 * loads the state file when nginx starts or reloads: its base table, then the patches appended to
 * it (state-journal.ts), with M.patch's checks. Uses the module's locals (M, check_line, ...).
 */
export const FAST_LANE_LOAD_LUA = String.raw`-- The pool a host's value names, or nil.
local function pool_of(value)
  return value and value:match("^[^\t]*\t(@[^\t]*)\t")
end

-- A parsed patch applied to a table in Lua memory (M.load), with M.patch's checks; uses counts the
-- hosts naming each pool. Nil and what is wrong when the patch cannot apply (nothing changed then).
local function patch_entries(entries, uses, p)
  for _, ref in ipairs(p.refs) do
    local pool = ref[2]
    if not p.sets[pool] and (p.dels[pool] or not entries[pool]) then
      return nil, bad(ref[1], "address", "names a pool the table lacks")
    end
  end
  local moved = {}
  for key in pairs(p.lines) do
    if key:sub(1, 1) ~= "@" then
      local old, new = pool_of(entries[key]), pool_of(p.sets[key])
      if old then moved[old] = (moved[old] or 0) - 1 end
      if new then moved[new] = (moved[new] or 0) + 1 end
    end
  end
  for key in pairs(p.dels) do
    if key:sub(1, 1) == "@" and (uses[key] or 0) + (moved[key] or 0) > 0 then
      return nil, bad(p.lines[key], "delete", "removes a pool a host still names")
    end
  end
  for key in pairs(p.lines) do entries[key] = p.sets[key] end
  for pool, d in pairs(moved) do uses[pool] = (uses[pool] or 0) + d end
  return true
end

-- The patches appended to the state file after its base (state-journal.ts), from byte at on, applied
-- in order to entries: each "# gatehouse fast lane patch <base> <version>" section ends with
-- "# end <version> <bytes>". A torn last section (a crash while it was appended) and a bad one end
-- the walk, loudly: nginx serves the table reached so far, and Gatehouse's drift check rewrites the
-- file. The version reached.
local function replay(text, at, version, entries, path)
  local uses = {}
  for key, value in pairs(entries) do
    local pool = key:sub(1, 1) ~= "@" and pool_of(value)
    if pool then uses[pool] = (uses[pool] or 0) + 1 end
  end
  local n = 0
  while at <= #text do
    n = n + 1
    local e = text:find("\n# end ", at, true)
    local nl = e and text:find("\n", e + 1, true)
    if not nl then
      ngx.log(ngx.ERR, "fast lane: ", path, ": section ", n, " is incomplete (torn append): ignored; serving version ", version)
      return version
    end
    local section = text:sub(at, e)
    local ev, bytes = text:sub(e + 1, nl - 1):match("^# end ([0-9a-f]+) (%d+)$")
    local p, err = M.parse_patch(section)
    if p and (not ev or ev ~= p.version or tonumber(bytes) ~= #section) then
      p, err = nil, "its end line does not match it"
    end
    if p and p.base ~= version then
      p, err = nil, ("its base is %s, not %s"):format(p.base, version)
    end
    if p then
      local ok, perr = patch_entries(entries, uses, p)
      if not ok then p, err = nil, perr end
    end
    if not p then
      ngx.log(ngx.ERR, "fast lane: ", path, ": section ", n, ": ", err, ": it and the rest ignored; serving version ", version)
      return version
    end
    version = p.version
    at = nl + 1
  end
  return version
end

-- At (re)start and reload: the state file is the truth (its base table, then its patches).
function M.load(path)
  local f, err = io.open(path, "r")
  if not f then error("fast lane: " .. err) end
  local text = f:read("*a")
  f:close()
  -- The base ends at the first line after its header that starts with "#" (no table line does):
  -- a patch section, or what a crash left of one, however short.
  local at = text:find("\n#", 1, true)
  local version, entries = M.parse(at and text:sub(1, at) or text)
  if not version then error("fast lane: " .. path .. ": " .. entries) end
  if at then version = replay(text, at + 1, version, entries, path) end
  if M.version() == version then return end
  -- A reload: the old workers serve the old config until they exit, and a host leaving the table
  -- may have no server block there. Hosts the file lacks stay until Gatehouse sends the exact
  -- table once the reload has landed; the version says the table is not the file's meanwhile.
  local dict = ngx.shared.gh_fast
  local cur, kept = dict:get("current"), false
  if cur then
    local prefix = cur .. "|"
    for _, key in ipairs(dict:get_keys(0)) do
      local host = key:sub(1, #prefix) == prefix and key:sub(#prefix + 1)
      if host and not entries[host] then
        entries[host] = dict:get(key)
        kept = true
      end
    end
  end
  if kept then version = version .. "+kept" end
  local ok, rerr = M.replace(version, entries)
  if not ok then error("fast lane: " .. rerr) end
end
`;
