"""The dashboard in a real browser (Playwright driving Debian's chromium) on a live server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from api.auth import Role
from api.main import create_app
from tests.api.browser import chromium, live_server
from tests.api.estate import Estate, build_estate


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """This module's own estate: the browser runs a wave and edits a mapping."""
    built = build_estate(Path(tmp_path_factory.mktemp("browser-estate")))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def base_url(estate: Estate) -> Iterator[str]:
    app = create_app(estate.settings, verifier=estate.tokens, context_for=estate.context_for)
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def logged_in(browser: Any, base_url: str, estate: Estate, role: Role, path: str = "/") -> Any:
    """A page after logging in through the login form with a token of tenant acme."""
    page = browser.new_page()
    page.goto(base_url + path)
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=token]", estate.tokens.raw[("acme", role)])
    page.click("button[type=submit]")
    expect(page.locator("#tenant")).to_have_text("acme")
    return page


def test_log_in_and_see_the_waves(browser: Any, base_url: str, estate: Estate) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.VIEWER)
    waves = page.locator("#waves tr.wave")
    expect(waves).to_have_count(9)
    expect(page.locator(f"tr[data-wave='{acme.done_wave}']")).to_contain_text("completed")
    expect(page.locator("#sources")).to_contain_text(acme.source_id)
    expect(page.locator("#routing")).to_contain_text("new_platform")
    # the chart of wave throughput: the wave that ran, its policies per second of run time
    ran = page.locator(f"#throughput tr.throughput[data-throughput-wave='{acme.done_wave}']")
    expect(ran.locator(".rate")).to_have_text(re.compile(r"^[0-9,]+/s$"))
    expect(ran).to_contain_text(re.compile(r"[0-9,]+ in [0-9.]+ s"))
    # the status filter lives in the URL
    page.select_option("select[name=status]", "completed")
    expect(page).to_have_url(re.compile(r"status=completed"))
    expect(page.locator("#waves tr.wave")).to_have_count(1)
    page.close()


def test_a_failing_gates_policy_is_one_click_from_the_overview(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.VIEWER)
    expect(page.locator("#failed-gates")).to_contain_text(acme.failing_gate)
    page.locator("#failed-gates a.failing-policy", has_text=acme.failing_policy).first.click()
    expect(page).to_have_url(re.compile(rf"/policies\?policy_id={acme.failing_policy}"))
    expect(page.locator("#policy-id")).to_have_text(acme.failing_policy)
    expect(page.locator("#policy")).to_contain_text(acme.blocked_wave)
    page.close()


def test_confirm_a_field_in_the_mapping_editor_and_see_its_audit_entry(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.OPERATOR, f"/mappings/{acme.mapping_id}")
    row = page.locator("tr[data-target='policy_core.effective_date']")
    expect(row.locator(".rule-status")).to_have_text("proposed")
    expect(row).to_contain_text("01/")  # sample values of the source column
    row.locator("button.confirm").click()
    expect(page.locator("#saved")).to_contain_text("policy_core.effective_date")
    expect(page.locator("tr[data-target='policy_core.effective_date'] .rule-status")).to_have_text(
        "confirmed"
    )
    entry = page.locator("#mapping-audit tr.audit-entry").first
    expect(entry).to_contain_text("update_field_mapping")
    expect(entry).to_contain_text("policy_core.effective_date")
    # a viewer sees the editor without the buttons
    viewer = logged_in(browser, base_url, estate, Role.VIEWER, f"/mappings/{acme.mapping_id}")
    expect(viewer.locator("button.confirm")).to_have_count(0)
    page.close()
    viewer.close()


def test_run_a_wave_and_watch_its_progress_reach_100(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.OPERATOR, f"/waves/{acme.runnable_wave}")
    expect(page.locator("#wave-status")).to_have_text("pending")
    page.click("#run-wave")
    expect(page).to_have_url(re.compile(r"\?job=job-"))
    job = page.locator("#job")
    expect(job).to_have_attribute("data-finished", "true", timeout=60_000)
    expect(job.locator(".percent")).to_have_text("100%")
    expect(job.locator(".state")).to_contain_text("succeeded")
    page.reload()
    expect(page.locator("#wave-status")).to_have_text("completed")
    page.close()


def test_replay_the_audit_log_for_a_time_range(browser: Any, base_url: str, estate: Estate) -> None:
    page = logged_in(browser, base_url, estate, Role.VIEWER, "/audit")
    page.fill("input[name=namespace]", "waves")
    page.fill("input[name=since]", "1h")
    page.click("#audit-filter button")
    expect(page).to_have_url(re.compile(r"namespace=waves.*since=1h"))
    total = int(page.locator("#total").inner_text())
    assert total > 0
    expect(page.locator("tr.entry").first).to_contain_text("waves")
    if total > 50:
        page.click("#next-page")
        expect(page).to_have_url(re.compile(r"cursor=50"))
    page.fill("input[name=since]", "2099-01-01T00:00:00Z")
    page.click("#audit-filter button")
    expect(page.locator("#total")).to_have_text("0")
    page.close()


def test_a_refused_action_shows_the_one_line_message(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.OPERATOR, f"/waves/{acme.blocked_wave}")
    page.click("#run-wave")
    job = page.locator("#job")
    expect(job).to_have_attribute("data-finished", "true", timeout=60_000)
    expect(job.locator(".state")).to_contain_text("blocked by gate")
    page.close()


def test_an_assembly_its_conflicts_and_a_policys_assembled_document(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.VIEWER)
    page.click("header a[href='/assemblies']")
    row = page.locator("#assemblies tr.assembly", has_text=acme.assembly_id)
    expect(row).to_contain_text("complete")
    expect(row).to_contain_text("agency_policies")
    row.locator(f"a[href='/assemblies/{acme.assembly_id}']").click()
    expect(page.locator("#assembly-id")).to_have_text(acme.assembly_id)
    expect(page.locator("#components")).to_contain_text("match rate")
    conflicts = page.locator("#conflicts tr.conflict")
    expect(conflicts.first).to_be_visible()
    assert conflicts.count() >= 2
    # the conflict's policy is one click away: the tracker shows its assembled document
    policy = conflicts.first.locator("a").first
    policy_id = policy.inner_text()
    policy.click()
    expect(page).to_have_url(re.compile(rf"/policies\?policy_id={policy_id}"))
    expect(page.locator("#policy-id")).to_have_text(policy_id)
    expect(page.locator("#assembled")).to_contain_text(acme.assembly_id)
    expect(page.locator("#provenance tr.provenance").first).to_be_visible()
    expect(page.locator("#provenance")).to_contain_text("agency_policies")
    expect(page.locator("#document")).to_contain_text(f'"policy_id": "{policy_id}"')
    page.close()


def test_decide_a_sync_conflict_and_filter_by_state_in_the_url(
    browser: Any, base_url: str, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    page = logged_in(browser, base_url, estate, Role.APPROVER)
    page.click("header a[href='/sync']")
    expect(page.locator("#open-count")).to_have_text(str(len(acme.conflict_ids)))
    first = page.locator(f"tr.conflict[data-conflict='{acme.conflict_ids[0]}']")
    expect(first).to_contain_text(acme.policy_id)
    expect(first).to_contain_text("(extract-2)")  # where the legacy value came from
    first.locator("button.take-legacy").click()
    expect(page.locator("#resolved")).to_contain_text(str(acme.conflict_ids[0]))
    expect(page.locator("#open-count")).to_have_text(str(len(acme.conflict_ids) - 1))
    page.select_option("select[name=state]", "resolved")
    expect(page).to_have_url(re.compile(r"state=resolved"))
    done = page.locator(f"tr.conflict[data-conflict='{acme.conflict_ids[0]}'] .conflict-state")
    token_id = estate.tokens.callers[estate.tokens.raw[("acme", Role.APPROVER)]].token_id
    expect(done).to_have_text(f"resolved: took legacy (api token {token_id} (approver))")
    page.close()
