"""serve-local tells the user how to call the server started from a spec that requires an API key, without ever
printing the key (issue 18 item 6: it used to generate the key and never show where it was)."""

from __future__ import annotations

import stat
from pathlib import Path

from stack.local.serve import LocalServer, how_to_call
from stack.local.spec import find_in_dir

PROD_MANIFESTS = Path(__file__).resolve().parents[1] / "golden" / "prod" / "manifests"


def test_the_generated_key_is_stored_for_this_user_only_and_the_call_names_the_file(tmp_path):
    server = LocalServer(find_in_dir(PROD_MANIFESTS, "vllm"), tmp_path / "model", port=18080)
    assert server.api_key and server.api_key_file is not None
    assert server.api_key_file.read_text() == server.api_key
    assert stat.S_IMODE(server.api_key_file.stat().st_mode) == 0o600
    call = how_to_call(server)
    assert server.api_key not in call
    assert call == (
        "call: curl http://127.0.0.1:18080/v1/chat/completions -H 'Content-Type: application/json' "
        f'-H "Authorization: Bearer $(cat {server.api_key_file})" '
        """-d '{"model": "llama-3.3-70b", "messages": [{"role": "user", "content": "Hello"}]}'"""
    )


def test_without_a_key_in_the_spec_the_call_has_no_authorization(tmp_path):
    dev = Path(__file__).resolve().parents[1] / "golden" / "dev" / "manifests"
    server = LocalServer(find_in_dir(dev, "vllm"), tmp_path / "model", port=18081)
    assert server.api_key is None and server.api_key_file is None
    assert "Authorization" not in how_to_call(server)
