#!/usr/bin/env bash
# Regenerates every committed test fixture with PyTorch + transformers (development only).
# Usage: scripts/make_fixtures.sh            (makes scripts/.venv from requirements-fixtures.txt)
#        PYTHON=/path/to/python scripts/make_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    [ -x scripts/.venv/bin/python ] || { python3 -m venv scripts/.venv && scripts/.venv/bin/pip install -q -r scripts/requirements-fixtures.txt; }
    PYTHON=scripts/.venv/bin/python
fi
"$PYTHON" scripts/fixtures/tokenizer.py Tests/Fixtures/tokenizer
"$PYTHON" scripts/fixtures/llama.py Tests/Fixtures/llama
"$PYTHON" scripts/fixtures/images.py
"$PYTHON" scripts/fixtures/clip.py Tests/Fixtures/clip
"$PYTHON" scripts/fixtures/llava.py Tests/Fixtures/llava
"$PYTHON" scripts/fixtures/ops.py
"$PYTHON" scripts/fixtures/optim.py
"$PYTHON" scripts/fixtures/training.py Tests/Fixtures/training
"$PYTHON" scripts/fixtures/data.py Tests/Fixtures/data
"$PYTHON" scripts/fixtures/gguf_types.py Tests/Fixtures/gguf
"$PYTHON" scripts/fixtures/gguf_llama.py Tests/Fixtures/llama/mha Tests/Fixtures/gguf Tests/Fixtures/tokenizer/llama3
"$PYTHON" scripts/fixtures/gguf_llava.py Tests/Fixtures/llava/orig-mlp2x Tests/Fixtures/gguf
