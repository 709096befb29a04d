"""The near-miss ranking: pieces for the database prefilter, and which candidates come out on top."""

from __future__ import annotations

import time

from mcp_server.utils.similarity import (
    MAX_PIECES,
    Matcher,
    closest,
    email_pieces,
    email_similarity,
    key_similarity,
    pieces,
    text_similarity,
)


def skus(typed: str, candidates: list[str]) -> list[str]:
    return [key for key, _ in closest(typed, candidates, key_similarity)]


def emails(typed: str, candidates: list[str]) -> list[str]:
    return [key for key, _ in closest(typed, candidates, email_similarity)]


def names(typed: str, candidates: list[str]) -> list[str]:
    return [name for name, _ in closest(typed, candidates, lambda m, name: text_similarity(m, name))]


def test_pieces_are_lower_case_runs_of_three_or_two_letters_for_short_text() -> None:
    assert pieces("MUG-BLUE") == ("mug", "ug-", "g-b", "-bl", "blu", "lue")
    assert pieces("Mugg") == ("mu", "ug", "gg")
    assert pieces("ab") == ("ab",)
    assert pieces("  ") == ()


def test_long_text_gives_at_most_max_pieces_spread_from_start_to_end() -> None:
    found = pieces("a hand-thrown stoneware mug with a speckled glaze")
    assert len(found) == MAX_PIECES
    assert (found[0], found[-1]) == ("a h", "aze")


def test_an_address_counts_its_domain_as_one_piece() -> None:
    assert email_pieces("Anan@Gmail.com") == ("an", "na", "@gmail.com")
    assert email_pieces("no-at-sign") == pieces("no-at-sign")


def test_a_swapped_pair_of_letters_finds_the_sku_first() -> None:
    catalog = ["TEA-GREEN-01", "MUG-BLACK-01", "MUG-BLUE-01", "CUP-BLUE-01"]
    assert skus("mug-bleu-01", catalog)[0] == "MUG-BLUE-01"


def test_a_missing_or_extra_letter_finds_the_sku() -> None:
    assert skus("MUG-BLU-01", ["MUG-BLUE-01", "LAMP-01"]) == ["MUG-BLUE-01"]
    assert skus("MUGG-BLUE-01", ["MUG-BLUE-01", "LAMP-01"]) == ["MUG-BLUE-01"]


def test_nothing_close_gives_no_suggestion() -> None:
    assert skus("ZEBRA-99", ["MUG-BLUE-01", "TEA-GREEN-01"]) == []


def test_at_most_three_best_first_and_ties_keep_their_order() -> None:
    catalog = ["MUG-01", "MUG-02", "MUG-03", "MUG-04", "MUG-0X"]
    assert skus("MUG-0", catalog) == ["MUG-01", "MUG-02", "MUG-03"]


def test_a_shared_domain_alone_is_not_a_near_miss() -> None:
    customers = ["bob@gmail.com", "anna@gmail.com", "hannah@gmail.com"]
    assert emails("anan@gmail.com", customers)[0] == "anna@gmail.com"
    assert "bob@gmail.com" not in emails("anan@gmail.com", customers)


def test_a_mistyped_domain_finds_the_address() -> None:
    assert emails("anna@gmial.com", ["anne@gmail.com", "anna@gmail.com", "bob@gmail.com"])[:2] == [
        "anna@gmail.com",
        "anne@gmail.com",
    ]


def test_part_of_a_name_is_compared_with_each_run_of_as_many_words() -> None:
    catalog = ["Blue ceramic mug", "Green tea", "Mugwort tea", "Desk lamp"]
    assert names("mugg", catalog)[0] == "Blue ceramic mug"
    assert names("gren tea", catalog)[0] == "Green tea"
    assert "Desk lamp" not in names("mugg", catalog)


def test_case_does_not_matter() -> None:
    matcher = Matcher("MUG-BLUE-01")
    assert key_similarity(matcher, "mug-blue-01") == 1.0


def test_ranking_a_thousand_candidates_is_quick() -> None:
    catalog = [f"SKU-{n:05d}-{'ABCDEFGH'[n % 8]}" for n in range(1000)]
    started = time.perf_counter()
    found = skus("SKU-0421-F", catalog)
    elapsed = time.perf_counter() - started
    assert found[0] == "SKU-00421-F"
    assert elapsed < 0.5, f"ranking 1,000 SKUs took {elapsed * 1000:.0f} ms"
