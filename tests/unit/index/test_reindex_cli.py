"""`skytune reindex` calls the rebuild route and prints what was rebuilt; errors are one line, exit 1."""
from __future__ import annotations

from skytune import cli
from skytune.client import http


def test_reindex_posts_the_experiments_and_reports(monkeypatch, capsys):
    calls = []

    def request(self, method, path, body=None, query=None):
        calls.append((self.url, method, path, body))
        return {"rebuilt": [{"experiment": "mnist", "runs": 12}]}

    monkeypatch.setattr(http.Client, "request", request)
    assert cli.main(["reindex", "--experiment", "mnist", "--api", "http://127.0.0.1:9"]) == 0
    assert calls == [("http://127.0.0.1:9", "POST", "/v1/index/rebuild", {"experiments": ["mnist"]})]
    assert "mnist: 12 runs indexed" in capsys.readouterr().out
    assert cli.main(["reindex", "--api", "http://127.0.0.1:9"]) == 0
    assert calls[-1][3] == {"experiments": None}  # every experiment


def test_reindex_reports_api_errors(monkeypatch, capsys):
    def request(self, *args, **kwargs):
        raise http.ApiError(404, "NotFound", "experiment 'x' does not exist", "experiments")

    monkeypatch.setattr(http.Client, "request", request)
    assert cli.main(["reindex", "--experiment", "x", "--api", "http://127.0.0.1:9"]) == 1
    assert "does not exist" in capsys.readouterr().err
