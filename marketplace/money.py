"""Amounts of credits. Stored as integer micro-credits (1 credit = 1,000,000 µc), shown as decimal strings.

Floats never touch money: `parse_credits` takes text or Decimal, `format_credits` returns text."""

import re
from decimal import Decimal, InvalidOperation

from core.exceptions import InvalidInput

MICRO = 1_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are credits per 1M tokens
# Plain decimals only: Decimal() also reads '1_000', '1e3', other scripts' digits and 'Infinity'
DECIMAL = re.compile(r"[+-]?[0-9]{1,30}(?:\.[0-9]{1,30})?|[+-]?\.[0-9]{1,30}")


def parse_credits(raw, *, param: str = "amount", minimum: int = 0, maximum: int | None = None) -> int:
    """Turn '12.5' into 12_500_000 micro-credits, or raise InvalidInput naming `param`."""
    if isinstance(raw, float | bool):
        raise InvalidInput(f"{param} must be a decimal string, not a float", param=param)
    text = str(raw).strip()
    if not DECIMAL.fullmatch(text):
        raise InvalidInput(f"{param} must be a number of credits like '12.5', got {text[:40]!r}", param=param)
    try:
        value = Decimal(text)
    except InvalidOperation:  # the pattern admits only what Decimal reads; kept so a change there cannot 500
        raise InvalidInput(f"{param} must be a number of credits like '12.5'", param=param) from None
    scaled = value * MICRO
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{param} has more than 6 decimal places", param=param)
    micro = int(scaled)
    if micro < minimum:
        raise InvalidInput(f"{param} must be at least {format_credits(minimum)}", param=param)
    if maximum is not None and micro > maximum:
        raise InvalidInput(f"{param} must be at most {format_credits(maximum)}", param=param)
    return micro


def format_credits(micro: int) -> str:
    """12_500_000 -> '12.500000' (always six decimals, so strings sort and compare the same way)."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(int(micro)), MICRO)
    return f"{sign}{whole}.{fraction:06d}"


def short_credits(micro: int) -> str:
    """12_500_000 -> '12.5', 3_000_000 -> '3', 1 -> '0.000001': as many decimals as the amount needs, for people."""
    text = format_credits(micro).rstrip("0")
    return text[:-1] if text.endswith(".") else text


def credits_per_token(micro_per_million: int) -> str:
    """A price in micro-credits per 1M tokens as credits per token, the decimal string OpenRouter's pricing uses:
    1_500_000 -> '0.0000015', 0 -> '0'."""
    text = format(Decimal(int(micro_per_million)).scaleb(-12), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def token_cost(*, prompt_tokens: int, completion_tokens: int, prompt_price: int, completion_price: int) -> int:
    """Micro-credits for a call at prices in micro-credits per 1M tokens, rounded up to a whole micro-credit."""
    numerator = prompt_tokens * prompt_price + completion_tokens * completion_price
    return -(-numerator // TOKENS_PER_PRICE_UNIT)


def split_fee(amount: int, *, fee_percent: int) -> tuple[int, int]:
    """(provider share, platform fee) of a charge. The fee rounds down; the two always add up to `amount`."""
    fee = amount * fee_percent // 100
    return amount - fee, fee
