from __future__ import annotations

import json


async def test_runs_empty(jp_fetch) -> None:
    response = await jp_fetch("mlprod-nb", "api", "runs")
    assert json.loads(response.body) == {"runs": []}
