"""The load test's short run: two protocol-level sessions drawing on Doodle for 20 s against a
real server. It asserts what must hold at any speed: every stroke got its new guess, no errors,
no timeouts. Times are printed by `python -m tests.load`, never asserted."""

from __future__ import annotations

from tests import load

def test_two_sessions_drawing_for_20_seconds_lose_no_stroke(capsys):
    (level,) = load.main(["--scenario", "doodle", "--levels", "2", "--seconds", "20",
                          "--pause", "1,2"])
    print(capsys.readouterr().out)
    results = [outcome.result for outcome in level.outcomes]
    assert results.count("ok") >= 10, results  # two sessions, a stroke every 1-2 s
    assert results.count("error") == results.count("timeout") == 0, level.details
    assert results.count("lost") == 0, level.details
    assert level.server_cpu is not None and level.server_cpu > 0  # the server's CPU was read
