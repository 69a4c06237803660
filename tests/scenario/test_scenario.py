"""Scenario files: built-ins load, mistakes are one line naming file and key, hashes follow content."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from leakbench.errors import UsageError
from leakbench.scenario import payloads
from leakbench.scenario.spec import builtin_names, load_scenario
from leakbench.scenario.workspace import file_for_unit, fill_workspace

BUILTINS = {"tool-calls", "huge-grep", "session-churn", "spike", "soak", "demo"}


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


MINIMAL = 'protocol = "openai"\niterations = 10\n'


def test_builtins_load_by_name_with_their_promised_shape():
    assert set(builtin_names()) >= BUILTINS
    tool_calls = load_scenario("tool-calls")
    assert (tool_calls.iterations, tool_calls.serve.answer, tool_calls.workspace.size) == (1000, "tool_call", 1_000_000)
    churn = load_scenario("session-churn")
    assert (churn.protocol, churn.iterations, churn.sessions.per_iteration) == ("opencode", 1400, 1)
    assert churn.sessions.tool_calls >= 2
    grep = load_scenario("huge-grep")
    assert grep.workspace.files == 1200 and grep.workspace.matches == 2000 and grep.serve.shape == "grep"
    spike = load_scenario("spike")
    assert spike.spike is not None and spike.spike.size >= 50 * spike.serve.size
    assert load_scenario("soak").interval is not None
    demo = load_scenario("demo")
    assert demo.protocol == "openai" and 150 <= demo.iterations <= 300


def test_overrides_change_the_hash_and_the_path_does_not(tmp_path):
    path = write(tmp_path, MINIMAL)
    base = load_scenario(str(path))
    assert len(base.content_hash) == 64
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    assert load_scenario(str(shutil.copy(path, moved / "s.toml"))).content_hash == base.content_hash
    assert load_scenario(str(path), iterations=20).content_hash != base.content_hash
    assert load_scenario(str(path), iterations=None).content_hash == base.content_hash
    assert load_scenario(str(path), serve={"size": "2MB"}).serve.size == 2_000_000


def test_shortening_a_scenario_keeps_warmup_and_spike_in_proportion():
    short = load_scenario("spike", iterations=30)
    assert short.iterations == 30 and short.warmup == 5 and short.spike.at == 20
    assert load_scenario("spike", iterations=30, warmup=2).warmup == 2


@pytest.mark.parametrize(
    "text, message",
    [
        ('protocol = "openai"\niterations = -5\n', "s.toml: iterations: expected a whole number above 0, got -5"),
        ('protocol = "openai"\niterations = 2.5\n', "s.toml: iterations: expected a whole number, got 2.5"),
        (
            'protocol = "grpc"\niterations = 5\n',
            "s.toml: protocol: expected one of 'openai', 'anthropic', 'opencode', 'responses' or 'gemini', got 'grpc'",
        ),
        (MINIMAL + "colour = 1\n", "s.toml: colour: unknown key"),
        (MINIMAL + '[serve]\nsize = "1 parsec"\n', 's.toml: serve.size: expected a size like "1MB"'),
        (MINIMAL + "[spike]\nat = 3\n", "s.toml: spike.size: missing"),
        (MINIMAL + "warmup = 10\n", "s.toml: warmup: expected fewer than iterations (10), got 10"),
        ("iterations = 5\n", "s.toml: protocol: missing"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_key_and_expectation(tmp_path, text, message):
    with pytest.raises(UsageError) as err:
        load_scenario(str(write(tmp_path, text)))
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(str(tmp_path)) and message in line


def test_malformed_toml_names_the_line(tmp_path):
    with pytest.raises(UsageError, match=r"s\.toml: not valid TOML: .*line 2") as err:
        load_scenario(str(write(tmp_path, 'protocol = "openai"\niterations = = 3\n')))
    assert "\n" not in str(err.value)


def test_an_unknown_name_lists_the_builtins():
    with pytest.raises(UsageError, match="tool-calls") as err:
        load_scenario("no-such-scenario")
    assert all(name in str(err.value) for name in BUILTINS)


@pytest.mark.parametrize("shape", payloads.SHAPES)
@pytest.mark.parametrize("size", [1, 1000, 1_000_000])
def test_payloads_are_exactly_the_size_asked(shape, size):
    size = max(size, 64) if shape == "json" else size  # a JSON document has a minimum size
    data = payloads.generate(shape, size, seed=3)
    assert len(data) == size
    assert data == payloads.generate(shape, size, seed=3)


def test_grep_payload_is_path_line_match_across_about_1200_files():
    lines = payloads.generate("grep", 30_000_000).splitlines()
    assert len(lines) == 2000
    files = {line.split(b":", 1)[0] for line in lines}
    assert 1100 <= len(files) <= 1300
    path, number, match = lines[7].split(b":", 2)
    assert path.endswith(b".py") and number.isdigit() and match.startswith(payloads.NEEDLE.encode())


def test_encoded_pieces_are_each_a_valid_json_string_and_the_cache_stays_bounded():
    import json

    pieces = payloads.encoded("json", 200_000, 0, 2, 9)
    assert len(pieces) == 9
    assert all(isinstance(json.loads(b'"' + p + b'"'), str) for p in pieces)
    once = json.loads(b'"' + b"".join(pieces) + b'"')
    assert json.loads(json.loads(f'"{once}"')) == json.loads(payloads.generate("json", 200_000))
    for size in range(1, 30):
        payloads.encoded("text", size * 1000)
    assert payloads.encoded.cache_info().currsize <= payloads.encoded.cache_info().maxsize <= 8


def test_workspace_grep_finds_the_promised_matches(tmp_path):
    scenario = load_scenario("huge-grep")
    fill_workspace(scenario, tmp_path)
    found = subprocess.run(
        ["grep", "-rn", scenario.workspace.needle, "."], cwd=tmp_path, capture_output=True, check=True
    ).stdout
    assert found.count(b"\n") == 2000
    assert len({line.split(b":", 1)[0] for line in found.splitlines()}) == 1200
    assert 20_000_000 < len(found) < 60_000_000


def test_file_placeholder_cycles_through_workspace_files_and_hits_the_spike(tmp_path):
    scenario = load_scenario("spike")
    written = {p.relative_to(tmp_path).as_posix(): p.stat().st_size for p in fill_workspace(scenario, tmp_path)}
    assert written[file_for_unit(scenario, 1)] == scenario.workspace.size
    assert file_for_unit(scenario, 1) != file_for_unit(scenario, 2)
    assert file_for_unit(scenario, 1) == file_for_unit(scenario, 1 + scenario.workspace.files)
    assert written[file_for_unit(scenario, scenario.spike.at)] == scenario.spike.size
