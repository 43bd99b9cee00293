"""``geo-service import-incidents`` and ``geo-service escalate`` against the test cluster."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from geo_service.auth import Principal
from geo_service.cli import app
from geo_service.db.pool import Database
from geo_service.grids.service import import_features
from tests.incidents.areas import POINTS, hierarchy
from tests.test_cli import cli_env  # noqa: F401 - the fixture pointing the CLI at a fresh database

runner = CliRunner()


def test_import_incidents_and_escalate(cli_env: Database, tmp_path: Path) -> None:  # noqa: F811
    import_features(cli_env, hierarchy()["features"], Principal(0, "admin", "test"))
    lon, lat = POINTS["grid_1"]
    csv = tmp_path / "tickets.csv"
    csv.write_bytes(
        f"external_id,lon,lat,crs,address,category,description\nC-1,{lon},{lat},,,暴露垃圾,门口\n".encode(
            "gbk"
        )
    )
    result = runner.invoke(app, ["import-incidents", str(csv)])
    assert result.exit_code == 0, result.output
    assert "新建 1 件" in result.output and "（编码 gbk）" in result.output
    again = runner.invoke(app, ["import-incidents", str(csv), "--encoding", "gbk"])
    assert "新建 0 件，已存在 1 件" in again.output

    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,lon,lat,category\nC-2,1000,1,E0102\n", encoding="utf-8")
    refused = runner.invoke(app, ["import-incidents", str(bad)])
    assert (
        refused.exit_code == 1
        and "第 2 行：经度 1000.0" in refused.output
        and "未导入任何数据" in refused.output
    )

    with cli_env.cursor() as cur:
        cur.execute("UPDATE incidents SET due_at = now() - interval '1 hour' WHERE external_id = 'C-1'")
    swept = runner.invoke(app, ["escalate"])
    assert swept.exit_code == 0 and "升级 1 件" in swept.output, swept.output
    with cli_env.cursor() as cur:
        cur.execute("SELECT owner_level, status FROM incidents WHERE external_id = 'C-1'")
        assert dict(cur.fetchone()) == {"owner_level": "community", "status": "escalated"}
