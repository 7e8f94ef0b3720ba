/**
 * Certificates chosen per handshake inside nginx (`ssl_certificate_by_lua`), written to `tls.lua` in
 * each generation and loaded once by `init_by_lua`. The shared dict `gh_certs` holds, under a
 * generation number, host → certificate fingerprint, and by fingerprint the PEM chain and key
 * (content-addressed, so never rewritten in place). A replacement adds new material, then new
 * entries, then switches `current` in one step, then drops what nothing names: every worker sees the
 * old table or the new one, whole. Each worker keeps parsed chains and keys in an LRU cache keyed by
 * fingerprint. At start the table comes from the generation's `tls.tsv` and the key files Gatehouse
 * keeps (root-only, where nginx's master, still root, reads them); afterwards from the status
 * socket. Everything is validated before anything is written; messages never quote a key.
 */
export const TLS_LUA = String.raw`local ssl = require "ngx.ssl"
local lrucache = require "resty.lrucache"

local M = {}
local parsed = lrucache.new(1000)

local HOST = "^[a-z0-9_*][a-z0-9_.-]*$"
local FP = "^[0-9a-f]+$"
local KEY_LABELS = { ["PRIVATE KEY"] = true, ["EC PRIVATE KEY"] = true, ["RSA PRIVATE KEY"] = true }

local function bad(n, field, why)
  return ("line %d: %s %s"):format(n, field, why)
end

-- The table: version, host -> fingerprint, and the fingerprints named; or nil and what is wrong.
function M.parse(text)
  if type(text) ~= "string" or text == "" then return nil, bad(1, "header", "is missing") end
  if text:sub(-1) ~= "\n" then return nil, "the table does not end with a newline" end
  local version, hosts, fps, n = nil, {}, {}, 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if n == 1 then
      version = line:match("^# gatehouse tls ([0-9a-f]+)$")
      if not version then return nil, bad(1, "header", "is not \"# gatehouse tls <version>\"") end
    else
      local host, fp = line:match("^([^\t]*)\t([^\t]*)$")
      if not host then return nil, bad(n, "line", "does not have 2 tab-separated fields") end
      -- A wildcard only as the whole first label.
      if #host > 253 or not host:find(HOST) or host:find("*", 2, true) or (host:sub(1, 1) == "*" and host:sub(2, 2) ~= ".") then
        return nil, bad(n, "host", "is not a host name")
      end
      if hosts[host] then return nil, bad(n, "host", "is listed twice") end
      if #fp ~= 64 or not fp:find(FP) then return nil, bad(n, "fingerprint", "is not 64 hex digits") end
      hosts[host] = fp
      fps[fp] = true
    end
  end
  return version, hosts, fps
end

-- A PEM text: one or more certificates and exactly one private key, nothing else; the parts
-- parsed by OpenSSL. Returns chain and key PEM, or nil and what is wrong (never the key itself).
function M.material(fp, text)
  local what = "certificate " .. fp:sub(1, 12)
  local certs, keys, nkeys = {}, nil, 0
  local rest = text:gsub("%-%-%-%-%-BEGIN ([A-Z ]+)%-%-%-%-%-\r?\n([A-Za-z0-9+/=\r\n]+)%-%-%-%-%-END ([A-Z ]+)%-%-%-%-%-", function(b, body, e)
    if b ~= e then return "!" end
    local block = "-----BEGIN " .. b .. "-----\n" .. body .. "-----END " .. e .. "-----\n"
    if b == "CERTIFICATE" then
      certs[#certs + 1] = block
    elseif KEY_LABELS[b] then
      keys = block
      nkeys = nkeys + 1
    else
      return "!"
    end
    return ""
  end)
  if rest:find("%S") then return nil, what .. ": pem has text that is not a certificate or a private key" end
  if #certs == 0 then return nil, what .. ": pem has no certificate" end
  if nkeys ~= 1 then return nil, what .. ": pem must have exactly one private key" end
  local chain = table.concat(certs)
  if not ssl.parse_pem_cert(chain) then return nil, what .. ": certificate does not parse" end
  if not ssl.parse_pem_priv_key(keys) then return nil, what .. ": key does not parse" end
  return chain, keys
end

local function drop(dict, prefix, keep)
  for _, key in ipairs(dict:get_keys(0)) do
    if key:sub(1, #prefix) == prefix and not (keep and keep[key:sub(#prefix + 1)]) then dict:delete(key) end
  end
end

function M.version()
  return ngx.shared.gh_certs:get("version")
end

-- Replaces the table in one step; on failure (memory) the old one stays as it was.
-- material: fingerprint -> { chain, key }, for every fingerprint the table names.
function M.replace(version, hosts, material)
  local dict = ngx.shared.gh_certs
  local added = {}
  local function undo(gen, err)
    if gen then drop(dict, gen .. "|") end
    for fp in pairs(added) do
      dict:delete("c|" .. fp)
      dict:delete("k|" .. fp)
    end
    return nil, "shared memory: " .. tostring(err)
  end
  for fp, m in pairs(material) do
    if not dict:get("c|" .. fp) then
      added[fp] = true
      local ok, err = dict:safe_set("k|" .. fp, m[2])
      if ok then ok, err = dict:safe_set("c|" .. fp, m[1]) end
      if not ok then return undo(nil, err) end
    end
  end
  local gen, gerr = dict:incr("gen", 1, 0)
  if not gen then return undo(nil, gerr) end
  for host, fp in pairs(hosts) do
    local ok, err = dict:safe_set(gen .. "|" .. host, fp)
    if not ok then return undo(gen, err) end
  end
  local old = dict:get("current")
  local ok, err = dict:safe_set("current", gen)
  if not ok then return undo(gen, err) end
  dict:safe_set("version", version)
  if old then drop(dict, old .. "|") end
  drop(dict, "c|", material)
  drop(dict, "k|", material)
  return true
end

local function read(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

-- At (re)start and reload, in the master (root): the table file and the key files it names.
function M.load(path, dir)
  local text, rerr = read(path)
  if not text then error("tls: " .. rerr) end
  local version, hosts, fps = M.parse(text)
  if not version then error("tls: " .. path .. ": " .. hosts) end
  local material = {}
  for fp in pairs(fps) do
    local crt, cerr = read(dir .. "/" .. fp .. ".crt")
    local key, kerr = read(dir .. "/" .. fp .. ".key")
    if not crt or not key then error("tls: " .. tostring(cerr or kerr)) end
    local chain, k = M.material(fp, crt .. "\n" .. key)
    if not chain then error("tls: " .. k) end
    material[fp] = { chain, k }
  end
  local ok, err = M.replace(version, hosts, material)
  if not ok then error("tls: " .. err) end
end

local function parse_pair(fp, chain, key)
  local c, cerr = ssl.parse_pem_cert(chain)
  local k, kerr = ssl.parse_pem_priv_key(key)
  if not c or not k then
    ngx.log(ngx.ERR, "tls: certificate ", fp:sub(1, 12), " does not parse: ", tostring(cerr or kerr))
    return nil
  end
  local p = { c, k }
  parsed:set(fp, p)
  return p
end

-- The parsed chain and key for a name (exact, else its wildcard): from this worker's cache when it
-- holds the fingerprint (the common case: no PEM copied out of shared memory), else parsed once.
local function lookup(dict, name)
  local wild = name:match("^[^.]+(%..+)$")
  -- A replacement may drop the generation read a moment ago: read once more if it switched.
  for _ = 1, 2 do
    local cur = dict:get("current")
    if not cur then return nil end
    local fp = dict:get(cur .. "|" .. name) or (wild and dict:get(cur .. "|*" .. wild))
    if fp then
      local p = parsed:get(fp)
      if p then return fp, p end
      local chain, key = dict:get("c|" .. fp), dict:get("k|" .. fp)
      if chain and key then return fp, parse_pair(fp, chain, key) end
    end
    if dict:get("current") == cur then return nil end
  end
end

-- ssl_certificate_by_lua: the certificate for the name the client asked for. No certificate for
-- it: the handshake fails (the fallback certificate in the config is never sent).
function M.select()
  local name = ssl.server_name()
  if not name then return ngx.exit(ngx.ERROR) end
  -- As nginx matches server names: case-blind, a trailing dot ignored.
  name = name:lower():gsub("%.$", "")
  -- The client's bytes: not a host name, no table entry (and nothing of it in the error log).
  if #name > 253 or not name:find("^[a-z0-9_][a-z0-9_.-]*$") then return ngx.exit(ngx.ERROR) end
  local fp, p = lookup(ngx.shared.gh_certs, name)
  if not p then
    if not fp then ngx.log(ngx.ERR, "tls: no certificate for ", name) end
    return ngx.exit(ngx.ERROR)
  end
  local ok, err = ssl.clear_certs()
  if ok then ok, err = ssl.set_cert(p[1]) end
  if ok then ok, err = ssl.set_priv_key(p[2]) end
  if not ok then
    ngx.log(ngx.ERR, "tls: could not set certificate ", fp:sub(1, 12), ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

-- The body of a PUT: the table, then per fingerprint a line "= <fingerprint>" and its PEM text.
function M.parse_update(text)
  if type(text) ~= "string" then return nil, bad(1, "header", "is missing") end
  local at = text:find("\n= ", 1, true)
  local head = at and text:sub(1, at) or text
  local version, hosts, fps = M.parse(head)
  if not version then return nil, hosts end
  local material, sections, order = {}, {}, {}
  if at then
    local body = text:sub(at + 1)
    if body:sub(-1) ~= "\n" then return nil, "material: does not end with a newline" end
    local fp
    for line in body:gmatch("([^\n]*)\n") do
      local start = line:match("^= (.*)$")
      if start then
        if #start ~= 64 or not start:find(FP) then return nil, "material: fingerprint is not 64 hex digits" end
        if sections[start] then return nil, "certificate " .. start:sub(1, 12) .. ": is sent twice" end
        fp = start
        sections[fp] = {}
        order[#order + 1] = fp
      else
        local lines = sections[fp]
        lines[#lines + 1] = line
      end
    end
    for _, f in ipairs(order) do
      local chain, key = M.material(f, table.concat(sections[f], "\n") .. "\n")
      if not chain then return nil, key end
      material[f] = { chain, key }
    end
  end
  for fp in pairs(fps) do
    if not material[fp] then return nil, "certificate " .. fp:sub(1, 12) .. ": is named but not sent" end
  end
  for fp in pairs(material) do
    if not fps[fp] then return nil, "certificate " .. fp:sub(1, 12) .. ": is sent but named by no host" end
  end
  return version, hosts, material
end

-- The root-only endpoint: GET answers the version, PUT replaces the whole table. The body is kept
-- in memory (client_body_buffer_size = client_max_body_size): a key never reaches a temp file.
function M.serve()
  local method = ngx.req.get_method()
  if method == "GET" then
    ngx.print(M.version() or "")
    return
  end
  if method ~= "PUT" then return ngx.exit(405) end
  ngx.req.read_body()
  local text = ngx.req.get_body_data()
  if not text then
    ngx.status = 400
    ngx.print("the body is empty or too large")
    return
  end
  local version, hosts, material = M.parse_update(text)
  local ok, err = version, hosts
  if version then ok, err = M.replace(version, hosts, material) end
  if not ok then
    ngx.status = version and 500 or 400
    ngx.print(err)
    return
  end
  ngx.print(version)
end

return M
`;
