"""Hostile config files are refused from the parser's events, before any YAML library builds them."""

from __future__ import annotations

import yaml

from driftline.yamlguard import MAX_BYTES, MAX_DEPTH, check_yaml_file, yaml_problem

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))


def test_an_alias_bomb_is_refused_by_counting_what_it_would_expand_to():
    assert len(BOMB) < 400
    assert "expands to more than 100,000 values (line 5" in yaml_problem(BOMB)  # e: 10^5 values, with a..d before it
    # the same aliases, few enough, are ordinary YAML and pass
    small = "base: &base {num_leaves: 31, learning_rate: 0.05}\ncredit: *base\npricing: *base\n"
    assert yaml_problem(small) is None and yaml.safe_load(small)["pricing"]["num_leaves"] == 31


def test_nesting_is_bounded_in_block_and_flow_style():
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "v: 1\n"
    assert f"is nested more than {MAX_DEPTH} levels deep (line {MAX_DEPTH + 1})" in yaml_problem(block)
    assert yaml_problem("x: " + "[" * 20_000 + "]" * 20_000).startswith("is ")
    fine = "".join(f"{'  ' * i}k{i}:\n" for i in range(10)) + "  " * 10 + "v: 1\n"
    assert yaml_problem(fine) is None


def test_size_and_encoding_are_checked_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_BYTES + "\n")
    assert check_yaml_file(big) == f"is {big.stat().st_size:,} bytes; a config file may have {MAX_BYTES:,} at most"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    assert check_yaml_file(latin) == "is not UTF-8 text (byte 9): save it as UTF-8"
    good = tmp_path / "good.yaml"
    good.write_text("params: {num_leaves: 31}\n")
    assert check_yaml_file(good) is None
    good.write_text(BOMB)  # the answer is remembered per content (mtime and size), not per path
    assert "expands to more than" in check_yaml_file(good)
