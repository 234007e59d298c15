"""Every command of the tutorials (doc/*.md, htd/README.md) runs: a doc page whose command fails is a bug.

Each ```sh block is run as written by bash, in a copy of the collection's folders beside a tiny synthetic
CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST at ../shared/data/ (where the pages point), so relative paths, loops and flags are
the page's own (``diff`` exits 1 when the files differ, as the pages mean them to: that counts as
success). Only ``python`` itself is a stand-in that appends the smoke configuration to a training
script's command line (1 epoch, 64 images; one run of a small ResNet for the schedule study), to
benchmarks/initialiser.py's training script, to doc/make_figures.py and to the runs htd/study.py starts,
then runs the real interpreter.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, write_cifar10, write_cifar100, write_idx

PAGES = sorted(glob.glob(os.path.join(ROOT, "doc", "*.md"))) + [os.path.join(ROOT, "htd", "README.md")]
FOLDERS = ["lenet", "nin", "vgg", "resnet", "wrn", "densenet", "resnext", "senet", "speedrun", "htd", "doc", "results",
           "benchmarks", "tools"]
FENCE = re.compile(r"^```(\w*)\s*$")


def code_blocks(path):
    """(language, text) of each fenced block of a Markdown file."""
    blocks, language, lines = [], None, []
    with open(path) as f:
        for line in f:
            m = FENCE.match(line.strip())
            if m and language is None:
                language, lines = m.group(1), []
            elif line.strip() == "```" and language is not None:
                blocks.append((language, "".join(lines)))
                language = None
            elif language is not None:
                lines.append(line)
    assert language is None, f"{path}: a code block is not closed"
    return blocks


def _runnable():
    for page in PAGES:
        for i, (language, text) in enumerate(code_blocks(page)):
            if language == "sh":
                yield pytest.param(page, text, id=f"{os.path.relpath(page, ROOT)}#{i}")


SHIM = '''#!{python}
import os, sys
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
extra = []
# benchmarks/initialiser.py runs the training script named after its first argument.
script = args[2] if len(args) > 2 and args[0].endswith("initialiser.py") else (args[0] if args else "")
if script.endswith(".py") and os.path.exists(script):
    text = open(script).read()
    trains = "train.Run(" in text
    if trains:
        extra = ["--epochs", "1", "--subset", "64", "--batch-size", "32"]
        if "runs=True" in text:
            extra += ["--runs", "1", "--depth", "8"]
    elif args[0].endswith("make_figures.py"):
        extra = ["--epochs", "1", "--subset", "64"]
    elif args[0].endswith("study.py") and ("--parallel" in args or "--task" in args):
        # htd/study.py starts the study script itself: the flags after -- reach every run.
        extra = ([] if "--" in args else ["--"]) + ["--epochs", "1", "--subset", "64", "--batch-size", "32",
                                                    "--depth", "8"]
    if (trains or args[0].endswith("make_figures.py")) and "--data-dir" not in args:
        dataset = args[args.index("--dataset") + 1] if "--dataset" in args else "cifar10"
        extra += ["--data-dir", {data!r}[dataset]]
os.execv(sys.executable, [sys.executable, *args, *extra])
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A copy of the collection's folders (work/), the tiny data sets at ../shared/data/, a python shim."""
    base = tmp_path_factory.mktemp("doc")
    work = base / "work"
    for folder in FOLDERS:
        shutil.copytree(os.path.join(ROOT, folder), work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shared = base / "shared" / "data"
    tiny = {"cifar10": write_cifar10(str(shared / "cifar10" / "cifar-10-batches-py")),
            "cifar100": write_cifar100(str(shared / "cifar100" / "cifar-100-python"), train=100, test=100),
            "mnist": write_idx(str(shared / "mnist")),
            "fashion_mnist": write_idx(str(shared / "fashion-mnist"))}
    bin_dir = base / "bin"
    bin_dir.mkdir()
    log = str(base / "commands.log")
    for name in ("python", "python3"):
        (bin_dir / name).write_text(SHIM.format(python=sys.executable, log=log, data=tiny))
        (bin_dir / name).chmod(0o755)
    return work, str(bin_dir), log


def test_there_are_pages_with_commands():
    assert len(PAGES) >= 10
    assert sum(1 for _ in _runnable()) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_command_is_in_a_runnable_block(page):
    """A command shown in any other kind of block would escape the test below."""
    for language, text in code_blocks(page):
        if language != "sh":
            for line in text.splitlines():
                assert not re.match(r"^\s*(\w+=\S+\s+)*python3?\s", line), f"{page}: '{line}' is not in a ```sh block"


def _commands_run(log):
    """How many python commands the shim has started so far (one line each in its log)."""
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return f.read().count("\n")


@pytest.mark.parametrize("page,block", list(_runnable()))
def test_doc_command_runs(page, block, sandbox):
    work, bin_dir, log = sandbox
    before = _commands_run(log)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PATH"] = bin_dir + os.pathsep + env["PATH"]
    prelude = 'diff() { command diff "$@" || [ $? -eq 1 ]; }\n'
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", prelude + block], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"{block}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    ran = _commands_run(log) - before
    expected = len(re.findall(r"^\s*(?:\w+=\S+\s+)*python3?\s", block, flags=re.M))
    assert ran >= expected, f"{ran} python commands ran, the block shows {expected}"
