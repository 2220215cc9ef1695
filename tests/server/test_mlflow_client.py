"""MLflow's own REST client against /invocations with a service token: MLflow sends the
token of MLFLOW_TRACKING_TOKEN as `Authorization: Bearer` (its documented way), through
a real gunicorn server on 127.0.0.1 that has a user, so a token is required."""

from __future__ import annotations

import pytest

from tests.conftest import add_token, add_user, deploy_workspace, production_server

mlflow_rest = pytest.importorskip("mlflow.utils.rest_utils", reason="mlflow-skinny not installed")
tracking = pytest.importorskip("mlflow.tracking._tracking_service.utils")

RECORD = {"corporation": "abcd", "lastmonth_activity": 3, "lastyear_activity": 900,
          "number_of_employees": 12}  # fmt: skip


def invoke(url: str):
    """POST one record to /invocations with MLflow's client and its default credentials."""
    creds = tracking.get_default_host_creds(url)  # reads MLFLOW_TRACKING_TOKEN
    return mlflow_rest.http_request(
        creds,
        "/invocations",
        "POST",
        json={"dataframe_records": [RECORD]},
        max_retries=0,
        raise_on_status=False,
    )


# MLflow's own client through a real gunicorn, about 8 s: run by make test-slow
@pytest.mark.slow
def test_mlflows_client_scores_with_a_token_and_is_refused_without(config, monkeypatch):
    """With MLFLOW_TRACKING_TOKEN set to a `predict` token: 200 and one prediction; with a
    `read` token: 403; with none: 401."""
    deploy_workspace(config)
    add_user(config, "ann", "admin")  # once a user exists, every route needs credentials
    predict, read = add_token(config, "crm", "predict"), add_token(config, "bi", "read")
    with production_server(config["config_file"]) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", predict)
        answer = invoke(url)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 1
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", read)
        assert invoke(url).status_code == 403
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
        assert invoke(url).status_code == 401
