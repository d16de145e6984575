-- pagerank: PageRank by power iteration (damping 0.85, dangling nodes spread evenly) of a seeded
-- 64-node graph with a planted hub (port of wasm-functions/src/pagerank.rs).
-- Checks: 1 = a fixed 4-node graph gives its known ranks; 2 = the ranks sum to 1 and are all
-- positive; 3 = the hub ranks first. With FLAG_CORRUPT one rank grows by 0.05 (check 2 fails).
local STREAM, NODES, MAX_OUT_LINKS, DAMPING = 8, 64, 4, 0.85
local MAX_ITERATIONS, CONVERGED, SUM_TOLERANCE = 60, 1e-10, 1e-9
local KNOWN_LINKS = { {1, 2}, {2}, {0}, {2} }
local KNOWN_RANKS = { 0.3725268513284341, 0.1958239118145845, 0.3941492368569813, 0.0375 }
local KNOWN_TOLERANCE = 1e-6

-- links[n] (n 0-based) is the list of n's targets (0-based); returns ranks[1..n].
local function ranks_of(links, nodes)
  local share = 1.0 / nodes
  local ranks, next_ranks = {}, {}
  for n = 1, nodes do ranks[n] = share; next_ranks[n] = 0.0 end
  for _ = 1, MAX_ITERATIONS do
    local dangling = 0.0
    for n = 1, nodes do if #links[n - 1] == 0 then dangling = dangling + ranks[n] end end
    local base = (1.0 - DAMPING) * share + DAMPING * dangling * share
    for n = 1, nodes do next_ranks[n] = base end
    for n = 1, nodes do
      local out = links[n - 1]
      if #out > 0 then
        local part = DAMPING * ranks[n] / #out
        for _, target in ipairs(out) do next_ranks[target + 1] = next_ranks[target + 1] + part end
      end
    end
    local moved = 0.0
    for n = 1, nodes do moved = moved + math.abs(ranks[n] - next_ranks[n]) end
    ranks, next_ranks = next_ranks, ranks
    if moved < CONVERGED then break end
  end
  return ranks
end

local function seeded_graph(random)
  local hub = random.index(NODES)
  local links = {}
  for node = 0, NODES - 1 do
    local targets = {}
    if node ~= hub then
      if node % 2 == 0 then targets[#targets + 1] = hub end
      for _ = 1, random.below(MAX_OUT_LINKS + 1) do
        local target = random.index(NODES)
        if target ~= node and targets[#targets] ~= target then targets[#targets + 1] = target end
      end
    end
    links[node] = targets
  end
  return links, hub
end

function handle(seed, flags)
  local known = {}
  for n = 1, #KNOWN_LINKS do known[n - 1] = KNOWN_LINKS[n] end
  local known_ranks = ranks_of(known, #KNOWN_LINKS)
  for n = 1, #KNOWN_RANKS do
    if math.abs(known_ranks[n] - KNOWN_RANKS[n]) >= KNOWN_TOLERANCE then return -1 end
  end
  local random = Rng(seed, STREAM)
  local links, hub = seeded_graph(random)
  local ranks = ranks_of(links, NODES)
  if corrupt_flag(flags) then
    local node = random.index(NODES) + 1
    ranks[node] = ranks[node] + 0.05
  end
  local sum, positive = 0.0, true
  for n = 1, NODES do sum = sum + ranks[n]; if not (ranks[n] > 0.0) then positive = false end end
  if not (math.abs(sum - 1.0) < SUM_TOLERANCE and positive) then return -2 end
  local top = 1
  for n = 1, NODES do if ranks[n] > ranks[top] then top = n end end
  if top - 1 ~= hub then return -3 end
  local scale = 2.0 ^ 40
  local h = FNV_BASIS
  for n = 1, NODES do h = fnv_value(h, math.tointeger(math.floor(ranks[n] * scale))) end
  return checksum_outcome(fnv_value(h, top - 1))
end
