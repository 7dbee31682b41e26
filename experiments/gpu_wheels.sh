#!/usr/bin/env bash
# The environment packages a lent GPU machine lacks (it has torch, numpy, scipy, tqdm, cloudpickle and
# typing-extensions), downloaded here as wheels for its Python 3.12 into .whl/ (ignored by git), to be
# carried to it: see experiments/gpu_grid.sh. About 13 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.whl/' >>.git/info/exclude; }
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  gymnasium==1.4.0 pettingzoo==1.27.0 mpe2==1.1.1 farama-notifications==0.0.6 pygame-ce==2.5.8
ls -la .whl
