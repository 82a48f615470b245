"""tools/demo.py: its options reach :func:`mmood.apis.demo` (the demo's summary: tests/test_apis/test_demo_summary.py;
the digits pipeline end to end: tests/test_e2e/test_digits_demo.py)."""
from conftest import load_tool

from mmood.apis.digits_demo import EVAL_CONFIGS, TRAINED_CONFIGS


def test_options_reach_the_library(monkeypatch, tmp_path):
    demo = load_tool('demo')
    assert demo.parse_args([]).trained and not demo.parse_args(['--zero-shot-only']).trained
    calls = []
    monkeypatch.setattr(demo, 'demo', lambda **kwargs: calls.append(kwargs) or {})
    demo.main(['--work-dir', str(tmp_path), '--cache-dir', str(tmp_path / 'c'), '--zero-shot-only'])
    demo.main([])
    assert calls[0]['trained_configs'] == () and calls[0]['cache_dir'] == str(tmp_path / 'c')
    assert calls[1]['trained_configs'] == TRAINED_CONFIGS and list(calls[1]['eval_configs']) == list(EVAL_CONFIGS)
