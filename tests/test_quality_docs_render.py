"""Data Docs render every check, the suite parameters included (no database needed).

GX 1.x's prescriptive renderer of expect_table_columns_to_match_ordered_list indexes ``column_list`` as a
list; the mart suites' ``contract_columns`` check gives it a suite parameter ({"$PARAMETER": name}), which
raised KeyError 0 in every gate run's log and left the check unrendered on both pages."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from skolsam.quality.gate import _all_suites_for_docs
from skolsam.quality.suites import SuiteError, expectation_parameters, resolve_for_docs
from skolsam.settings import Settings
from skolsam.warehouse.dictionary import contract_columns

PARAMS = expectation_parameters(Settings(), as_of=dt.date(2026, 6, 30))


def _rendered_texts(block) -> list[str]:
    out = []
    for item in block.bullet_list if hasattr(block, "bullet_list") else block.table:
        for cell in (item if isinstance(item, list) else [item]):
            d = cell.to_json_dict() if hasattr(cell, "to_json_dict") else cell
            st = d.get("string_template") if isinstance(d, dict) else None
            if st:
                out.append(st["template"] + " " + repr(st.get("params")))
    return out


def test_contract_columns_render_on_the_suite_pages(caplog):
    from great_expectations.render.renderer.content_block import ExpectationSuiteBulletListContentBlockRenderer

    suites = {s.name: s for s in _all_suites_for_docs(None, PARAMS)}
    checked = 0
    for name, columns in contract_columns().items():
        suite = suites[name.removeprefix("columns_")]
        configs = [e.configuration for e in suite.expectations
                   if e.expectation_type == "expect_table_columns_to_match_ordered_list"]
        assert configs, f"{suite.name} has no contract_columns check"
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            block = ExpectationSuiteBulletListContentBlockRenderer.render(configs)
        assert "unexpected Exception" not in caplog.text, caplog.text
        texts = _rendered_texts(block)
        assert any("Must have these columns in this order" in t for t in texts), texts
        assert all(repr(c) in " ".join(texts) for c in columns)
        checked += 1
    assert checked >= 2          # group_term and participant_term at least


def test_a_validation_result_renders_the_columns_the_check_used(caplog):
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.render.renderer.content_block import ValidationResultsTableContentBlockRenderer

    columns = contract_columns()["columns_mart_group_term"]
    kwargs = {"column_list": {"$PARAMETER": "columns_mart_group_term"}}
    cfg = ExpectationConfiguration(type="expect_table_columns_to_match_ordered_list",
                                   kwargs=resolve_for_docs("expect_table_columns_to_match_ordered_list", kwargs,
                                                           PARAMS),
                                   meta={"check": "contract_columns", "severity": "critical"})
    result = ExpectationValidationResult(success=True, expectation_config=cfg,
                                         result={"observed_value": list(columns)})
    with caplog.at_level(logging.WARNING):
        block = ValidationResultsTableContentBlockRenderer.render([result])
    assert "unexpected Exception" not in caplog.text, caplog.text
    assert "Must have these columns in this order" in repr(block.to_json_dict())
    assert kwargs == {"column_list": {"$PARAMETER": "columns_mart_group_term"}}     # a copy: the check keeps it


def test_an_unknown_parameter_is_an_error_not_a_broken_page():
    with pytest.raises(SuiteError):
        resolve_for_docs("expect_table_columns_to_match_ordered_list", {"column_list": {"$PARAMETER": "nope"}}, {})
    # other expectations' parameters are left as written
    kw = {"value_set": {"$PARAMETER": "fresh_terms"}}
    assert resolve_for_docs("expect_column_distinct_values_to_contain_set", kw, {}) == kw
