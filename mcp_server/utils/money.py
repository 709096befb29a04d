"""Money as integer minor units plus an ISO 4217 currency code."""

from __future__ import annotations

MAX_MINOR_UNITS = 2**63 - 1  # what a signed 64-bit column holds

# Minor-unit exponents of the currencies a small shop is likely to price in (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "AED",
            "ARS",
            "AUD",
            "BGN",
            "BRL",
            "CAD",
            "CHF",
            "CNY",
            "COP",
            "CZK",
            "DKK",
            "EGP",
            "EUR",
            "GBP",
            "HKD",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "MAD",
            "MXN",
            "MYR",
            "NGN",
            "NZD",
            "PHP",
            "PKR",
            "PLN",
            "RON",
            "RSD",
            "RUB",
            "SAR",
            "SEK",
            "SGD",
            "THB",
            "TRY",
            "TWD",
            "UAH",
            "USD",
            "ZAR",
        ],
        2,
    ),
    **dict.fromkeys(["CLP", "ISK", "JPY", "KRW", "VND", "XAF", "XOF"], 0),
    **dict.fromkeys(["BHD", "JOD", "KWD", "OMR", "TND"], 3),
}


def normalize_currency(code: str) -> str:
    value = code.strip().upper()
    if value not in CURRENCY_EXPONENTS:
        raise ValueError(f"'{code.strip()[:10]}' is not a currency this shop prices in (ISO 4217, e.g. EUR, USD, JPY)")
    return value


def format_money(minor_units: int, currency: str) -> str:
    """``1250, "EUR"`` → ``12.50 EUR``; ``500, "JPY"`` → ``500 JPY``."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    amount = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    return f"{sign}{amount} {currency}"
