"""The OpenAPI schema generates without warnings and describes the wallet endpoints."""

import io

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_schema_validates_and_lists_the_billing_endpoints(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stderr=io.StringIO())

    schema = yaml.safe_load(target.read_text())
    assert {"/api/v1/credits", "/api/v1/usage", "/api/payments/{provider_name}/webhook"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from /settings/keys: `Authorization: Bearer gpts_...`.",
    }
    usage_parameters = {p["name"] for p in schema["paths"]["/api/v1/usage"]["get"]["parameters"]}
    assert usage_parameters == {"start", "end", "group_by"}
