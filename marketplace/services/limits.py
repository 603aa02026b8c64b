"""Per-key rate limits and spend caps, kept in Redis so every web process sees the same counters.

Each check-and-take is one Lua script, so concurrent callers can never both take the last unit (DRF's
throttles read, then write, and admit 2-3x their limit under concurrency). Rates are token buckets that
refill continuously, as OpenAI's limits do: capacity = the per-minute limit, refill = limit / 60 per second.
Spend counters hold settled spend plus open reservations for the current period; when one is missing
(Redis restarted, or a new period) it is rebuilt from the database, which stays the source of truth."""

import dataclasses
import datetime as dt
import functools
import math

import redis
from django.conf import settings

# KEYS: request bucket, token bucket, spend counter.
# ARGV: rpm, tpm, tokens wanted, spend cap (-1: none), cost, spend counter ttl (0: none).
# Returns {admitted (1/0/-1: spend counter missing), reason, remaining requests, remaining tokens,
#          retry-after ms, requests reset ms, tokens reset ms}
_AUTHORIZE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)

local function bucket(key, capacity)
  local state = redis.call('HMGET', key, 'level', 'ts')
  local level = tonumber(state[1])
  local ts = tonumber(state[2])
  if level == nil then
    return capacity
  end
  local refilled = level + (now - ts) * capacity / 60000
  if refilled > capacity then refilled = capacity end
  return refilled
end

local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])

local requests_left = bucket(KEYS[1], rpm)
local tokens_left = bucket(KEYS[2], tpm)
local function reset_ms(left, capacity)
  return math.ceil((capacity - left) * 60000 / capacity)
end

if requests_left < 1 then
  return {0, 'requests', 0, math.floor(tokens_left), math.ceil((1 - requests_left) * 60000 / rpm),
          reset_ms(requests_left, rpm), reset_ms(tokens_left, tpm)}
end
if tokens > tpm then
  return {0, 'tokens_too_large', math.floor(requests_left), math.floor(tokens_left), -1,
          reset_ms(requests_left, rpm), reset_ms(tokens_left, tpm)}
end
if tokens_left < tokens then
  return {0, 'tokens', math.floor(requests_left), math.floor(tokens_left),
          math.ceil((tokens - tokens_left) * 60000 / tpm), reset_ms(requests_left, rpm), reset_ms(tokens_left, tpm)}
end
if cap >= 0 then
  local spent = redis.call('GET', KEYS[3])
  if spent == false then
    return {-1, 'spend_missing', 0, 0, 0, 0, 0}
  end
  if cost > 0 and tonumber(spent) + cost > cap then
    return {0, 'spend', math.floor(requests_left), math.floor(tokens_left), -1,
            reset_ms(requests_left, rpm), reset_ms(tokens_left, tpm)}
  end
  if cost > 0 then redis.call('INCRBY', KEYS[3], cost) end
end

requests_left = requests_left - 1
tokens_left = tokens_left - tokens
redis.call('HSET', KEYS[1], 'level', requests_left, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 120000)
redis.call('HSET', KEYS[2], 'level', tokens_left, 'ts', now)
redis.call('PEXPIRE', KEYS[2], 120000)
return {1, 'ok', math.floor(requests_left), math.floor(tokens_left), 0,
        reset_ms(requests_left, rpm), reset_ms(tokens_left, tpm)}
"""

# KEYS: token bucket, spend counter, request bucket. ARGV: tokens to give back, tpm, spend delta (<= 0),
# requests to give back, rpm.
_GIVE_BACK = """
local tokens = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local delta = tonumber(ARGV[3])
local requests = tonumber(ARGV[4])
local rpm = tonumber(ARGV[5])
if requests > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  local level = tonumber(redis.call('HGET', KEYS[3], 'level')) + requests
  if level > rpm then level = rpm end
  redis.call('HSET', KEYS[3], 'level', level)
end
if tokens > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local level = tonumber(redis.call('HGET', KEYS[1], 'level'))
  level = level + tokens
  if level > tpm then level = tpm end
  redis.call('HSET', KEYS[1], 'level', level)
end
if delta ~= 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local spent = redis.call('INCRBY', KEYS[2], delta)
  if spent < 0 then redis.call('SET', KEYS[2], 0, 'KEEPTTL') end
end
return 1
"""


# KEYS: spend counter. ARGV: cap, extra cost. Returns 1 (taken), 0 (over the cap) or -1 (counter missing).
_SPEND_MORE = """
local spent = redis.call('GET', KEYS[1])
if spent == false then return -1 end
if tonumber(spent) + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[2])
return 1
"""


@functools.cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


@functools.cache
def _scripts() -> tuple:
    return (
        client().register_script(_AUTHORIZE),
        client().register_script(_GIVE_BACK),
        client().register_script(_SPEND_MORE),
    )


def reset_clients() -> None:
    """Forget the connection (tests point REDIS_URL elsewhere; forked processes need their own)."""
    client.cache_clear()
    _scripts.cache_clear()


@dataclasses.dataclass(frozen=True)
class RateState:
    """What the `x-ratelimit-*` headers report."""

    limit_requests: int
    remaining_requests: int
    limit_tokens: int
    remaining_tokens: int
    reset_requests_ms: int
    reset_tokens_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-remaining-requests": str(self.remaining_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-tokens": str(self.remaining_tokens),
            "x-ratelimit-reset-requests": f"{self.reset_requests_ms}ms",
            "x-ratelimit-reset-tokens": f"{self.reset_tokens_ms}ms",
        }


@dataclasses.dataclass(frozen=True)
class Decision:
    admitted: bool
    reason: str  # ok | requests | tokens | tokens_too_large | spend | spend_missing
    rate: RateState
    retry_after_ms: int


def subject(*, user_id: int, key_id: int | None) -> str:
    """Whose counters: the key's, or the user's own for calls from a browser session."""
    return f"k{key_id}" if key_id is not None else f"u{user_id}"


def spend_counter(*, key_id: int, period: str, now: dt.datetime) -> tuple[str, dt.datetime | None, int]:
    """(Redis key, start of the period, ttl seconds) of a key's spend counter for the period holding `now`."""
    now = now.astimezone(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return f"spend:{key_id}:d{now:%Y-%m-%d}", midnight, 2 * 86400
    if period == "week":
        year, week, _ = now.isocalendar()
        return f"spend:{key_id}:w{year}-{week:02d}", midnight - dt.timedelta(days=now.weekday()), 8 * 86400
    if period == "month":
        return f"spend:{key_id}:m{now:%Y-%m}", midnight.replace(day=1), 32 * 86400
    return f"spend:{key_id}:total", None, 0


def take(
    *, subject: str, rpm: int, tpm: int, tokens: int, spend_key: str, spend_cap: int | None, cost: int, ttl: int
) -> Decision:
    """Take one request, `tokens` tokens and `cost` spend at once, or nothing."""
    authorize = _scripts()[0]
    result = authorize(
        keys=[f"rl:{subject}:req", f"rl:{subject}:tok", spend_key or f"spend:none:{subject}"],
        args=[rpm, tpm, tokens, -1 if spend_cap is None else spend_cap, cost, ttl],
    )
    status, reason, left_requests, left_tokens, retry_ms, reset_requests, reset_tokens = result
    rate = RateState(
        limit_requests=rpm,
        remaining_requests=max(0, int(left_requests)),
        limit_tokens=tpm,
        remaining_tokens=max(0, int(left_tokens)),
        reset_requests_ms=int(reset_requests),
        reset_tokens_ms=int(reset_tokens),
    )
    return Decision(admitted=status == 1, reason=reason.decode(), rate=rate, retry_after_ms=int(retry_ms))


def seed_spend(*, spend_key: str, spent: int, ttl: int) -> None:
    """Set a missing spend counter to what the database says was spent or reserved (first writer wins)."""
    client().set(spend_key, spent, nx=True, ex=ttl or None)


def give_back(
    *, subject: str, tokens: int, tpm: int, spend_key: str, spend_delta: int, requests: int = 0, rpm: int = 0
) -> None:
    """Return unused tokens to the bucket and correct the spend counter once the real cost is known; return the
    request too when the call was refused after the counters admitted it."""
    script = _scripts()[1]
    script(
        keys=[f"rl:{subject}:tok", spend_key or f"spend:none:{subject}", f"rl:{subject}:req"],
        args=[tokens, tpm, spend_delta, requests, rpm],
    )


def take_more_spend(*, spend_key: str, spend_cap: int, extra: int) -> str:
    """Reserve `extra` more on a spend counter: 'ok', 'spend' (over the cap) or 'spend_missing'."""
    result = _scripts()[2](keys=[spend_key], args=[spend_cap, extra])
    return {1: "ok", 0: "spend", -1: "spend_missing"}[int(result)]


def retry_after_seconds(decision: Decision) -> int:
    return max(1, math.ceil(decision.retry_after_ms / 1000))


def count_action(name: str, *, subject: int, limit: int, window_seconds: int) -> int | None:
    """Count one `name` action of `subject` (a user id) in a fixed window: None if admitted, else the seconds until
    the window ends. For slow actions people take by hand (reviews, reports), not for API traffic."""
    key = f"action:{name}:{subject}"
    pipe = client().pipeline()
    pipe.incr(key)
    pipe.expire(key, window_seconds, nx=True)
    pipe.ttl(key)
    count, _, ttl = pipe.execute()
    return None if count <= limit else max(int(ttl), 1)
