"""prefect.yaml as `prefect deploy --all` reads it: the same deployments as the catalog that
`flashfirst serve` uses, entrypoints that import, parameters each flow accepts, schedules
that parse, and an upload trigger that turns an event into valid parameters."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flashfirst.deployments.catalog import DeploymentSpec, SiteSettings, deployment_specs
from flashfirst.deployments.serve import runner_deployment
from flashfirst.tasks.object_events import event_id, event_name, event_resource
from prefect import Flow
from prefect.events import DeploymentEventTrigger, DeploymentTriggerTypes
from prefect.flows import load_flow_from_entrypoint
from prefect.server.events.actions import RunDeployment
from prefect.server.events.schemas.events import ReceivedEvent, ResourceSpecification
from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import HydrationContext, hydrate, validate
from pydantic import TypeAdapter

from flashfirst.inputs.seen_objects import StoredObject

PREFECT_YAML = Path(__file__).parents[1] / "prefect.yaml"


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text())


@pytest.fixture(scope="module")
def declared(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in project["deployments"]}


@pytest.fixture(scope="module")
def catalog(project: dict[str, Any]) -> dict[str, DeploymentSpec]:
    """The catalog for the site values prefect.yaml declares."""
    site = SiteSettings(**project["definitions"]["site"])
    return {s.name: s for s in deployment_specs(site)}


def yaml_schedule(spec: dict[str, Any]) -> dict[str, Any]:
    """A prefect.yaml schedule in the catalog's terms."""
    return {"cron": spec.get("cron"), "interval_s": spec.get("interval"),
            "timezone": spec.get("timezone"), "active": spec.get("active", True)}


def test_prefect_yaml_declares_exactly_the_catalog(declared: dict[str, dict[str, Any]],
                                                   catalog: dict[str, DeploymentSpec]) -> None:
    assert sorted(declared) == sorted(catalog)
    for name, spec in catalog.items():
        entry = declared[name]
        assert entry["entrypoint"] == spec.entrypoint, name
        assert entry["description"] == spec.description, name
        assert entry["tags"] == spec.tags, name
        assert entry.get("parameters", {}) == spec.parameters, name
        assert [yaml_schedule(s) for s in entry.get("schedules") or []] == [
            s.model_dump() for s in spec.schedules], name
        assert [{"expect": t["expect"], "match": t["match"], "parameters": t["parameters"],
                 "within_s": t.get("within"), "enabled": t.get("enabled", True)}
                for t in entry.get("triggers", [])] == [t.model_dump() for t in spec.triggers]
        assert all(t.get("schedule_after") == t.get("within")
                   for t in entry.get("triggers", [])), name
        limit = entry.get("concurrency_limit") or {}
        assert (limit.get("limit"), limit.get("collision_strategy")) == (
            spec.concurrency_limit, spec.collision_strategy), name


def test_every_deployment_runs_on_the_site_work_pool_with_nothing_to_pull(
        project: dict[str, Any]) -> None:
    assert project["pull"] == [] and project["build"] is None and project["push"] is None
    pool = project["definitions"]["site"]["work_pool"]
    assert {d["work_pool"]["name"] for d in project["deployments"]} == {pool}


def test_every_entrypoint_imports_a_flow(declared: dict[str, dict[str, Any]]) -> None:
    for entry in declared.values():
        flow = load_flow_from_entrypoint(entry["entrypoint"], use_placeholder_flow=False)
        assert isinstance(flow, Flow), entry["name"]


@pytest.mark.parametrize("name", ["scheduled", "manual", "batch", "hourly", "poll"])
def test_each_flow_accepts_its_deployments_parameters(
        name: str, declared: dict[str, dict[str, Any]]) -> None:
    entry = declared[name]
    flow = load_flow_from_entrypoint(entry["entrypoint"], use_placeholder_flow=False)
    parameters = entry.get("parameters", {})

    flow.validate_parameters(parameters)  # as the flow run will, with pydantic
    schema = parameter_schema(flow).model_dump_for_openapi()
    assert validate(parameters, schema) == []  # as the server does, with JSON Schema


async def test_every_schedule_parses_and_comes_round_within_a_day(
        declared: dict[str, dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    for entry in declared.values():
        for spec in entry.get("schedules") or []:
            if "cron" in spec:
                schedule = CronSchedule(cron=spec["cron"], timezone=spec.get("timezone"))
            else:
                schedule = IntervalSchedule(interval=timedelta(seconds=spec["interval"]))
            [next_run] = await schedule.get_dates(n=1, start=now)
            assert now <= next_run <= now + timedelta(days=1), entry["name"]


def upload_event(bucket: str, name: str, generation: int) -> ReceivedEvent:
    """The event the bridge, the puller and the poller emit for one object version."""
    obj = StoredObject(bucket=bucket, name=name, generation=generation)
    return ReceivedEvent(occurred=datetime.now(UTC), event=event_name(obj),
                         resource=event_resource(obj), id=event_id(obj))


def render_like_the_server(parameters: dict[str, str], event: ReceivedEvent
                           ) -> dict[str, Any]:
    """What Prefect's run-deployment action does with templated parameters."""
    parameters = copy.deepcopy(parameters)
    RunDeployment._upgrade_v1_templates(parameters)
    return hydrate(parameters, HydrationContext(raise_on_error=True, render_jinja=True,
                                                jinja_context={"event": event}))


def test_the_upload_trigger_starts_a_valid_run_for_the_object_version_it_names(
        project: dict[str, Any], declared: dict[str, dict[str, Any]]) -> None:
    site = project["definitions"]["site"]
    [spec] = declared["gcs"]["triggers"]
    trigger = TypeAdapter(DeploymentTriggerTypes).validate_python(spec)  # as deploy does
    event = upload_event(site["uploads_bucket"], "incoming/calls/a.mp3", 1712345678901234)
    flow = load_flow_from_entrypoint(declared["gcs"]["entrypoint"], use_placeholder_flow=False)

    assert isinstance(trigger, DeploymentEventTrigger) and event.event in trigger.expect
    assert ResourceSpecification(trigger.match.model_dump()).matches(event.resource)
    parameters = render_like_the_server(trigger.parameters, event)

    assert parameters == {"uri": f"gs://{site['uploads_bucket']}/incoming/calls/a.mp3",
                          "generation": 1712345678901234}
    assert validate(parameters, parameter_schema(flow).model_dump_for_openapi()) == []


@pytest.mark.parametrize("bucket,name", [("elsewhere", "incoming/a.txt"),
                                         ("my-uploads", "archive/a.txt")])
def test_the_upload_trigger_ignores_other_buckets_and_prefixes(
        bucket: str, name: str, declared: dict[str, dict[str, Any]]) -> None:
    [spec] = declared["gcs"]["triggers"]
    event = upload_event(bucket, name, 1)

    assert not ResourceSpecification(spec["match"]).matches(event.resource)


def test_served_deployments_are_the_declared_ones(catalog: dict[str, DeploymentSpec]) -> None:
    served = {s.name: runner_deployment(s) for s in catalog.values()}

    [trigger] = served["gcs"].triggers
    assert trigger.match.model_dump() == catalog["gcs"].triggers[0].match
    assert trigger.parameters == catalog["gcs"].triggers[0].parameters
    assert served["gcs"].concurrency_limit == 4
    assert served["gcs"].concurrency_options.collision_strategy.value == "ENQUEUE"
    [nightly] = served["scheduled"].schedules
    assert (nightly.schedule.cron, nightly.schedule.timezone) == ("0 2 * * *", "UTC")
    assert served["poll"].schedules[0].active is False
    assert served["manual"].schedules == []
    assert served["manual"].parameters == catalog["manual"].parameters


def test_the_upload_flow_describes_every_parameter_for_the_ui(
        declared: dict[str, dict[str, Any]]) -> None:
    flow = load_flow_from_entrypoint(declared["gcs"]["entrypoint"], use_placeholder_flow=False)
    properties = parameter_schema(flow).model_dump_for_openapi()["properties"]

    assert {n for n, p in properties.items() if not p.get("description")} == set()
