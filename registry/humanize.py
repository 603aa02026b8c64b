"""Numbers as people read them on the pages (the registry's report and the store's cards share this)."""


def short_count(value: float) -> str:
    """1_354_752 -> '1.35M', 12_480 -> '12.5k', 141_056 -> '141k', 950 -> '950'."""
    number = float(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            scaled = number / limit
            return f"{scaled:.3g}{suffix}" if scaled < 100 else f"{scaled:.0f}{suffix}"
    return f"{number:.0f}"
