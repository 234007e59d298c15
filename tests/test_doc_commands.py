"""Every shell command the READMEs and the tutorials show runs: a page whose command fails is a bug.

The pages are README.md, doc/*.md, htd/README.md, benchmarks/README.md and results/README.md. Every shell
block of them (fenced ```sh, ```bash, ```shell or ```console, a bare ``` fence, or indented) is run as written
by bash, in a copy of the collection beside a tiny synthetic CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST at
~/data/ (HOME is a folder of the test's own), where the pages point. So relative paths, loops and flags are
the page's own (``diff`` exits 1 when the files differ, as the pages mean them to: that counts as success).
Only ``python`` itself is a stand-in that appends the smoke configuration to a training script's command
line (1 epoch, 64 images; one run of a small ResNet for the schedule study), to benchmarks/initialiser.py's
training script, to doc/make_figures.py and to the runs htd/study.py starts, then runs the real interpreter.

A block that cannot run here says so in its first line, where a reader sees it too:
``# not run by the tests: <reason>`` (it installs packages, needs a GPU or a cluster, trains 200 epochs).
Of such a block the test checks what it can without running it: every file of the checkout it names exists,
and every flag given to a script is one that script (or the shared command line) defines.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, write_cifar10, write_cifar100, write_idx

PAGES = ([os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "doc", "*.md")))
         + [os.path.join(ROOT, folder, "README.md") for folder in ("htd", "benchmarks", "results")])
# The checkout a page's commands run in: every folder of training scripts, and the others by name.
FOLDERS = sorted({os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "*", "*_keras.py"))}
                 | {"htd", "doc", "results", "benchmarks", "tools", "cifar_common"})
FILES = ["README.md", "requirements.txt", "requirements-cpu.txt", "requirements-test.txt", "pyproject.toml"]
SHELLS = {"sh", "bash", "shell", "console", "", "indented"}  # "": a bare fence
FENCE = re.compile(r"^(```|~~~)\s*(\w*)")
NOT_RUN = re.compile(r"^# not run by the tests: (\S.*)$", re.M)
PYTHON = re.compile(r"^\s*(?:\w+=\S+\s+)*python3?\s", re.M)
# A python command inside a line: the interpreter (any path to it), then its script.
SCRIPT_CALL = re.compile(r"(?:^|[\s\"'(])(?:\S*/)?python3?\s+(?!-m\s|-c\s)(\S+\.py)([^|;&\"'()]*)")
# Paths of the checkout a block names: a folder of the collection, then a file.
CHECKOUT_PATH = re.compile(r"(?<![\w./~-])((?:%s)/[\w./-]+\.(?:py|sbatch|md|txt)|requirements[\w-]*\.txt)"
                           % "|".join(FOLDERS))


def blocks(path):
    """(language, text, first line number) of each code block of a Markdown file: fenced ones with their
    language ("" for a bare fence), indented ones as "indented"."""
    found, fence, language, lines, start = [], None, None, [], 0
    with open(path) as f:
        text = f.read().splitlines()
    previous_blank = True
    i = 0
    while i < len(text):
        line = text[i]
        m = FENCE.match(line.strip())
        if fence is None and m:
            fence, language, lines, start = m.group(1), m.group(2), [], i + 2
        elif fence is not None and line.strip() == fence:
            found.append((language, "\n".join(lines) + "\n", start))
            fence = None
        elif fence is not None:
            lines.append(line)
        elif previous_blank and line.startswith("    ") and line.strip() and not _in_list(text, i):
            start, lines = i + 1, []
            while i < len(text) and (text[i].startswith("    ") or not text[i].strip()):
                lines.append(text[i][4:])
                i += 1
            found.append(("indented", "\n".join(lines).strip("\n") + "\n", start))
            previous_blank = True
            continue
        previous_blank = not line.strip()
        i += 1
    assert fence is None, f"{path}: a code block is not closed"
    return found


def _in_list(text, i):
    """Whether an indented line continues a list item (the nearest unindented line above starts one)."""
    for line in reversed(text[:i]):
        if line.strip() and not line.startswith(" "):
            return bool(re.match(r"^([-*+]|\d+\.)\s", line))
    return False


def shell_text(language, text):
    """The commands of a shell block: a console block's lines after "$ " (the rest is output)."""
    if language != "console":
        return text
    return "".join(line[2:] + "\n" for line in text.splitlines() if line.startswith("$ "))


def _shell_blocks():
    for page in PAGES:
        for language, text, line in blocks(page):
            if language in SHELLS:
                yield page, language, shell_text(language, text), line


def _param(page, line):
    return f"{os.path.relpath(page, ROOT)}:{line}"


SHELL_BLOCKS = list(_shell_blocks())
RUN = [pytest.param(p, t, id=_param(p, n)) for p, lang, t, n in SHELL_BLOCKS if not NOT_RUN.match(t)]
NOT_RUN_BLOCKS = [pytest.param(p, t, id=_param(p, n)) for p, lang, t, n in SHELL_BLOCKS if NOT_RUN.match(t)]


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
        # A page's command without --data-dir downloads through keras.datasets: here, the tiny copy instead.
        dataset = args[args.index("--dataset") + 1] if "--dataset" in args else "cifar10"
        extra += ["--data-dir", {data!r}[dataset]]
os.execv(sys.executable, [sys.executable, *args, *extra])
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A copy of the collection (work/), a home folder with the tiny data sets at ~/data/, a python shim."""
    base = tmp_path_factory.mktemp("doc")
    work = base / "work"
    for folder in FOLDERS:
        shutil.copytree(os.path.join(ROOT, folder), work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in FILES:
        shutil.copy(os.path.join(ROOT, name), work / name)
    home = base / "home"
    data = home / "data"
    tiny = {"cifar10": write_cifar10(str(data / "cifar-10-batches-py")),
            "cifar100": write_cifar100(str(data / "cifar-100-python"), train=100, test=100),
            "mnist": write_idx(str(data / "mnist")),
            "fashion_mnist": write_idx(str(data / "fashion-mnist"))}
    bin_dir = base / "bin"
    bin_dir.mkdir()
    log = str(base / "commands.log")
    for name in ("python", "python3"):
        (bin_dir / name).write_text(SHIM.format(python=sys.executable, log=log, data=tiny))
        (bin_dir / name).chmod(0o755)
    return work, str(home), str(bin_dir), log


def test_the_pages_have_commands_and_say_why_a_block_is_not_run():
    assert len(PAGES) >= 14
    assert len(RUN) >= 25 and len(NOT_RUN_BLOCKS) >= 5
    for param in NOT_RUN_BLOCKS:
        reason = NOT_RUN.match(param.values[1]).group(1)
        assert len(reason.split()) >= 2, f"{param.id}: a block not run says why in a few words: {reason!r}"


def test_the_blocks_are_found_in_every_kind_of_fence(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n    python a.py\n    python b.py\n\n* a list\n\n    continued item\n\n"
                    "```bash\npython c.py\n```\n\n~~~console\n$ python d.py\noutput\n~~~\n\n```\nls\n```\n"
                    "```python\nprint(1)\n```\n")
    found = [(language, shell_text(language, text)) for language, text, _ in blocks(str(page))]
    assert found == [("indented", "python a.py\npython b.py\n"), ("bash", "python c.py\n"),
                     ("console", "python d.py\n"), ("", "ls\n"), ("python", "print(1)\n")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_page_uses_this_machines_paths_or_hides_a_command(page):
    """The pages say ~/data/... for a local copy; a command in a non-shell block would escape the tests."""
    with open(page) as f:
        text = f.read()
    for local in ("../shared", "/work/", "/root/"):
        assert local not in text, f"{page}: {local} is a path of the project's machines, not the reader's"
    for language, block, line in blocks(page):
        if language not in SHELLS:
            assert not PYTHON.search(block), f"{page}:{line}: a python command in a ```{language} block"


def _commands_run(log):
    """How many python commands the shim has started so far (one line each in its log)."""
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return f.read().count("\n")


@pytest.mark.parametrize("page,block", RUN)
def test_doc_command_runs(page, block, sandbox):
    work, home, bin_dir, log = sandbox
    before = _commands_run(log)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PATH"] = bin_dir + os.pathsep + env["PATH"]
    env["HOME"] = home
    prelude = 'diff() { command diff "$@" || [ $? -eq 1 ]; }\n'
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", prelude + block], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"{block}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    ran = _commands_run(log) - before
    expected = len(PYTHON.findall(block))
    assert ran >= expected, f"{ran} python commands ran, the block shows {expected}"


def _defined_flags(scripts):
    """Every "--flag" string in the named scripts, the modules beside them and the shared package."""
    sources = set(glob.glob(os.path.join(ROOT, "cifar_common", "*.py")))
    for script in scripts:
        sources.update(glob.glob(os.path.join(ROOT, os.path.dirname(script), "*.py")))
    flags = set()
    for source in sources:
        with open(source) as f:
            text = f.read()
        flags.update(re.findall(r"[\"'](--[a-z][\w-]*)", text))
        # A training script's own flags: the keys of its model_flags, {"depth": (DEPTH, "help"), ...}.
        flags.update("--" + key.replace("_", "-") for key in re.findall(r"[\"'](\w+)[\"']: \(", text))
    return flags


@pytest.mark.parametrize("page,block", NOT_RUN_BLOCKS)
def test_a_block_not_run_names_only_files_and_flags_that_exist(page, block):
    text = block.replace("\\\n", " ")
    for path in CHECKOUT_PATH.findall(text):
        assert os.path.exists(os.path.join(ROOT, path)), f"{page}: {path} does not exist"
    calls = SCRIPT_CALL.findall(text)
    for line in text.splitlines():
        if PYTHON.match(line) and not re.search(r"python3?\s+-m\s", line):
            assert SCRIPT_CALL.search(line), f"{page}: no script found in {line!r}"
    for script, rest in calls:
        assert os.path.exists(os.path.join(ROOT, script)), f"{page}: {script} does not exist"
        scripts = [script] + [w for w in rest.split() if w.endswith(".py")]
        flags = re.findall(r"(?:^|\s)(--[a-z][\w-]*)", rest.split(" -- ")[0])
        unknown = set(flags) - _defined_flags(scripts)
        assert not unknown, f"{page}: {script} has no flag {sorted(unknown)}"


def test_the_not_run_check_catches_a_missing_script_and_an_unknown_flag():
    page = os.path.join(ROOT, "README.md")
    with pytest.raises(AssertionError, match="does not exist"):
        test_a_block_not_run_names_only_files_and_flags_that_exist(page, "# not run by the tests: a b\n"
                                                                       "python wrn/WRN_keras.py\n")
    with pytest.raises(AssertionError, match="no flag"):
        test_a_block_not_run_names_only_files_and_flags_that_exist(page, "# not run by the tests: a b\n"
                                                                       "python lenet/LeNet_keras.py --depht 2\n")
    test_a_block_not_run_names_only_files_and_flags_that_exist(page, "# not run by the tests: a b\n"
                                                                   "python lenet/LeNet_keras.py --epochs 2\n")


def test_the_readme_reads_in_five_minutes_and_links_to_pages_that_exist():
    """At most 1,200 words, table included; a command within the first 150 words, the results within 500; every
    relative link of the README points at a file of the checkout."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    assert len(text.split()) <= 1200
    assert len(text[:text.index("```sh")].split()) <= 150
    assert len(text[:text.index("## Results")].split()) <= 500
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not link.startswith("http"):
            assert os.path.exists(os.path.join(ROOT, link)), link
