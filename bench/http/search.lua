-- search.lua — wrk script for bench/http/run.sh: every request is a
-- POST /api/v1/search with the Bearer token, the query taken in turn from
-- the corpus's queries.txt (each wrk thread starts at its own offset).
-- Environment: KEEP_TOKEN, KEEP_QUERIES (path), KEEP_K (default 10).
local queries = {}
local i = 0
local token = os.getenv("KEEP_TOKEN")
local k = os.getenv("KEEP_K") or "10"

function init(args)
   for line in io.lines(os.getenv("KEEP_QUERIES")) do
      -- queries are lowercase words and digits: nothing to escape in JSON
      queries[#queries + 1] = line
   end
   i = math.random(#queries)
end

function request()
   i = i % #queries + 1
   local body = '{"query":"' .. queries[i] .. '","k":' .. k .. '}'
   return wrk.format("POST", "/api/v1/search", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }, body)
end
