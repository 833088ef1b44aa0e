"""A shim, not a benchmark: `python scripts/study_shim.py ARGS` is `python -m wgan_core study ARGS` (wgan_core/study/command.py)
from any directory of a checkout, without installing; the tests start studies through it as subprocesses.
(Earlier results name it `benchmarks/ablation.py`, its former path.)"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from wgan_core.study.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
