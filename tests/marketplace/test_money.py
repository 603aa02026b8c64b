"""Amounts are integers in micro-credits; text in, text out; fees split without losing a micro-credit."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.exceptions import InvalidInput
from marketplace.money import MICRO, format_credits, parse_credits, split_fee, token_cost


@pytest.mark.parametrize(
    ("raw", "micro"), [("12.5", 12_500_000), ("0", 0), ("0.000001", 1), (" 3 ", 3_000_000), (7, 7_000_000)]
)
def test_parse_credits(raw, micro):
    assert parse_credits(raw) == micro


@pytest.mark.parametrize("raw", ["-1", "0.0000001", "abc", "NaN", "Infinity", "", 1.5, True])
def test_parse_credits_refuses_what_is_not_a_plain_amount(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_credits(raw, param="amount")
    assert caught.value.param == "amount"


def test_parse_credits_enforces_bounds():
    with pytest.raises(InvalidInput, match=r"at most 10\.000000"):
        parse_credits("10.000001", maximum=10_000_000)
    with pytest.raises(InvalidInput, match=r"at least 0\.000001"):
        parse_credits("0", minimum=1)


def test_format_credits_always_has_six_decimals():
    assert format_credits(12_500_000) == "12.500000"
    assert format_credits(1) == "0.000001"
    assert format_credits(-2_000_001) == "-2.000001"


def test_token_cost_rounds_up_to_a_whole_micro_credit():
    # 1,000 prompt tokens at 2 credits/1M = 2,000 µc; 333 completion tokens at 6 credits/1M = 1,998 µc
    assert (
        token_cost(prompt_tokens=1000, completion_tokens=333, prompt_price=2_000_000, completion_price=6_000_000)
        == 3998
    )
    assert token_cost(prompt_tokens=1, completion_tokens=0, prompt_price=1, completion_price=0) == 1
    assert token_cost(prompt_tokens=5, completion_tokens=5, prompt_price=0, completion_price=0) == 0


@given(amount=st.integers(min_value=0, max_value=10**15), percent=st.integers(min_value=0, max_value=100))
def test_split_fee_never_loses_a_micro_credit(amount, percent):
    share, fee = split_fee(amount, fee_percent=percent)
    assert share + fee == amount
    assert 0 <= fee <= amount
    assert fee == amount * percent // 100


@pytest.mark.django_db
@settings(max_examples=300, deadline=None)
@given(
    prompt_tokens=st.integers(0, 2_000_000),
    completion_tokens=st.integers(0, 2_000_000),
    prompt_price=st.integers(0, 10_000 * MICRO) | st.sampled_from([0, 1, 999_999, 1_000_000, 1_000_001]),
    completion_price=st.integers(0, 10_000 * MICRO),
    fee_percent=st.integers(0, 100),
)
def test_the_sql_copy_of_cost_and_fee_is_the_python(prompt_tokens, completion_tokens, prompt_price, completion_price,
                                                     fee_percent):  # fmt: skip
    """The one-statement charge computes cost and fee in SQL (charge_sql.cost_sql and fee_sql); money.py is the
    source. Same rounding (a cost rounds up to a whole micro-credit, a fee down) for every price and count."""
    from django.db import connection

    from marketplace.services.charge_sql import cost_sql, fee_sql

    cost = cost_sql("%(prompt)s", "%(completion)s")
    sql = (f"SELECT {cost}, {fee_sql(cost)} FROM (SELECT CAST(%(prompt_price)s AS BIGINT) AS prompt_price, "
           "CAST(%(completion_price)s AS BIGINT) AS completion_price) AS prices")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, {"prompt": prompt_tokens, "completion": completion_tokens, "prompt_price": prompt_price,
                             "completion_price": completion_price, "fee_percent": fee_percent})  # fmt: skip
        sql_cost, sql_fee = cursor.fetchone()

    expected = token_cost(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, prompt_price=prompt_price,
                          completion_price=completion_price)  # fmt: skip
    assert (sql_cost, sql_fee) == (expected, split_fee(expected, fee_percent=fee_percent)[1])
