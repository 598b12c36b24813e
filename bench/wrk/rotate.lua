-- POST /token with a refresh token no other request presents: wrk thread k of n (bench/run.sh runs 2) takes
-- every n-th line of the token file (BENCH_TOKENS) that bench/run.sh seeded, starting at line k.
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local stride = tonumber(os.getenv("BENCH_WRK_THREADS") or "2")
  tokens = {}
  local line_number = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line_number % stride == id then table.insert(tokens, line) end
    line_number = line_number + 1
  end
  next_token = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local token = tokens[next_token]
  next_token = next_token + 1
  return wrk.format(nil, nil, nil, '{"refreshToken":"' .. token .. '"}')
end
