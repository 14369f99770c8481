"""Stand-in for `lake env lean --json -R ROOT -o OUT SRC`: Lean's rules that proofgate relies on,
then a fake .olean, or a failure as scripted.

Lean's rules modelled here (read from Lean v4.32.0's `src/Lean/Shell.lean` and
`src/Lean/Util/Path.lean`, `moduleNameOfFileName`):
- with `-o`, the module name comes from the source's real path relative to the root directory
  (`-R DIR` / `--root=DIR`, default the working directory, also taken by its real path): the
  path's components, the last without its extension, e.g. `ROOT/A/B.lean` is `A.B`. A source
  outside the root stops the compile before anything is elaborated: `input file '<file>' must be
  contained in root directory (<root>/)` on stderr, exit 1, no .olean.
- a `private` declaration `x` (in namespace `N`) of module `M` is the constant
  `_private.M.0.N.x`, so the statement's and the submission's private names agree only when both
  were compiled under the same module name.
- `-D name=value` (or `-Dname=value`; src/Lean/Shell.lean `setConfigOption`, src/util/shell.cpp
  `set_config_option`, src/Lean/Language/Lean.lean `reparseOptions`): an argument without `=`
  stops the shell (`invalid -D parameter, argument must contain '='` on stderr, exit 1); an option
  Lean declares before any import (`BUILTIN_OPTIONS`) is parsed at once, a Bool taking only
  `true`/`false` and a Nat only digits (else `invalid -D parameter, invalid configuration option
  'VALUE' value, it must be true/false` / `... a natural number`, exit 1); any other name is
  checked after the imports and, unknown, fails the file with `invalid -D parameter, unknown
  configuration option 'NAME'` (a `weak.NAME` is dropped instead). The record keeps the options
  as parsed (`options`).
- `-j N` / `--threads=N`: N must be a number (`error: expected numeric argument for option '-j'`,
  exit 1); without it Lean uses every core. The record keeps it (`threads`, None when absent).

A line `-- standin-compiler: ACTION [TEXT]` in the source picks a failure: `error TEXT` (a
`--json` error message, exit 1), `hang` (sleeps), `crash` (killed by SIGKILL without output),
`crash-once FLAG` (SIGKILL the first time, when FLAG does not exist yet, which it then creates),
`abort` (SIGABRT, as Lean's stack-overflow handler ends), `silent` (exit 0 but no .olean),
`meet MINE THEIRS` (creates the file MINE, then waits for the file THEIRS before compiling: two
compiles that meet ran at the same time; one that waits alone is ended by the caller's timeout).
A line `-- standin-axioms: A B ...` names the axioms the checker is to find (see checker.py).
The record carries the Lean version that compiled it (`lean`: `STANDIN_LEAN_VERSION`, which a
stand-in toolchain's `lean` sets, tests/environments/toolchains.py; null otherwise), as a real
`.olean`'s header carries its Lean's version and githash.
Otherwise it compiles: the .olean is `OLEAN_MARKER` and one JSON object, the `Compiled` record:
the module name, the source's hash, its imports and `-D` options, and each declaration's full
(private: mangled) name, kind, its statement (the text between its name and `:=`, normalized)
with that text's hash and the identifiers it uses, the hash of its whole text and the identifiers
it mentions, and the numerals in it as canonical text (`literals`). The stand-in checker judges from that record alone.

The submission's elaboration runs code that can rewrite its own output; these directives model
such a rewrite (the record stops describing what was compiled) and a kernel refusal:
- `tamper-statement TEXT`: every theorem's recorded `statement_sha256` becomes TEXT's hash, its
  `statement` stays what was compiled (a cached hash that lies about its term);
- `tamper-literal TEXT`: TEXT joins every declaration's `literals` (e.g. `-4294967296`, an `Int`
  passed off as a `Nat`, or `007`);
- `kernel-refuses TEXT`: the record says the kernel refuses the module with TEXT (`kernel`),
  which the stand-in checker and the stand-in leanchecker both honour.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

OLEAN_MARKER = b"standin-olean\n"
#: Set by a stand-in toolchain's `lean`: the version it "is", stamped into every record.
LEAN_VERSION_VARIABLE = "STANDIN_LEAN_VERSION"
DIRECTIVE = "-- standin-compiler:"
AXIOMS = "-- standin-axioms:"

_KINDS = {
    "theorem": "theorem",
    "lemma": "theorem",
    "def": "definition",
    "abbrev": "definition",
    "instance": "definition",
    "opaque": "opaque",
    "axiom": "axiom",
    "structure": "inductive",
    "class": "inductive",
    "inductive": "inductive",
}
_DECLARATION = re.compile(
    r"^\s*(?:@\[[^\]]*\]\s*)?(?P<modifiers>(?:(?:private|protected|noncomputable|partial|unsafe)\s+)*)"
    r"(?P<keyword>" + "|".join(_KINDS) + r")\s+(?P<name>[^\s:({\[]+)"
)
_NAMESPACE = re.compile(r"^\s*namespace\s+(\S+)")
_END = re.compile(r"^\s*end(?:\s+(\S+))?\s*$")
_IMPORT = re.compile(r"^\s*import\s+(.+)$")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*")
_NUMERAL = re.compile(r"(?<![A-Za-z0-9_'.])[0-9]+(?![A-Za-z0-9_'])")


def _load_simulated_lean() -> ModuleType:
    """proofgate's simulated Lean toolchain (src/proofgate/bench/simulated_lean.py), loaded as a
    file: the Lean facts the stand-ins share with it, without importing the proofgate package
    (the stand-ins run as separate programs, some in a jail)."""
    path = Path(__file__).resolve().parents[2] / "src/proofgate/bench/simulated_lean.py"
    spec = importlib.util.spec_from_file_location("simulated_lean", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


simulated_lean = _load_simulated_lean()
BUILTIN_OPTIONS: dict[str, str] = simulated_lean.BUILTIN_OPTIONS


class OptionError(Exception):
    """Lean's shell or frontend refusing a `-D` option."""


def parse_options(arguments: list[str]) -> dict[str, bool | int | str]:
    """The `-D` options as Lean takes them; `OptionError` with Lean's message when it would not."""
    options: dict[str, bool | int | str] = {}
    for argument in arguments:
        name, equals, value = argument.strip().partition("=")
        if not equals:
            raise OptionError("invalid -D parameter, argument must contain '='")
        if name.split(".")[0] == "weak":
            continue  # `weak.NAME`: dropped when NAME is not declared (none is, here)
        kind = BUILTIN_OPTIONS.get(name)
        if kind is None:
            raise OptionError(f"invalid -D parameter, unknown configuration option '{name}'")
        if kind == "Bool":
            if value not in ("true", "false"):
                raise OptionError(
                    f"invalid -D parameter, invalid configuration option '{value}' value, "
                    "it must be true/false"
                )
            options[name] = value == "true"
        else:
            if not value.isdigit():
                raise OptionError(
                    f"invalid -D parameter, invalid configuration option '{value}' value, "
                    "it must be a natural number"
                )
            options[name] = int(value)
    return options


class RootError(Exception):
    """Lean's `moduleNameOfFileName` refusing a file outside its root directory."""


def module_name(source: str, root: str | None) -> str:
    """Lean's `moduleNameOfFileName source root` (root: the working directory when None)."""
    fname = os.path.realpath(source)
    root_dir = os.path.normpath(os.path.realpath(root if root is not None else os.getcwd()))
    if not root_dir.endswith(os.sep):
        root_dir += os.sep
    if not fname.startswith(root_dir):
        raise RootError(f"input file '{fname}' must be contained in root directory ({root_dir})")
    stem = os.path.splitext(fname[len(root_dir) :])[0]
    return ".".join(stem.split(os.sep))


def normalized(text: str) -> str:
    return " ".join(text.split())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def statement_of(text: str) -> str:
    """A declaration's text after its name, up to its `:=` (or its `where`): what it states."""
    for end in (":=", " where", "\n|"):
        if end in text:
            text = text[: text.index(end)]
    return normalized(text)


def declarations(source: str, module: str) -> list[dict[str, Any]]:
    """Each declaration of `source`, under the name Lean gives it in module `module`."""
    found: list[dict[str, Any]] = []
    namespaces: list[str] = []
    current: dict[str, Any] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            text = "\n".join(lines)
            statement = statement_of(text.split(current.pop("declared"), 1)[1])
            current["statement"] = statement
            current["statement_sha256"] = sha256(statement)
            current["text_sha256"] = sha256(normalized(text))
            current["uses"] = sorted(set(_IDENTIFIER.findall(statement)))
            current["mentions"] = sorted(set(_IDENTIFIER.findall(normalized(text))))
            # Lean elaborates `007` to the literal 7: the record holds each value's canonical text.
            current["literals"] = [str(int(x)) for x in _NUMERAL.findall(text)]
            found.append(current)

    for line in source.splitlines():
        if match := _DECLARATION.match(line):
            close()
            lines = [line]
            declared = match["name"]
            if declared.startswith("_root_."):
                name = declared.removeprefix("_root_.")
            else:
                name = ".".join([*namespaces, declared])
            private = "private" in match["modifiers"].split()
            current = {
                "name": f"_private.{module}.0.{name}" if private else name,
                "declared": declared,
                "kind": _KINDS[match["keyword"]],
                "private": private,
            }
        elif match := _NAMESPACE.match(line):
            close()
            current = None
            namespaces.extend(match[1].split("."))
        elif (match := _END.match(line)) and match[1] and namespaces:
            close()
            current = None
            del namespaces[len(namespaces) - len(match[1].split(".")) :]
        elif current is not None:
            lines.append(line)
    close()
    return found


class ScriptedError(Exception):
    """The `error TEXT` directive: Lean reports TEXT as an error of the file (`line`: the
    directive's line in the source, from 1)."""

    def __init__(self, text: str, line: int) -> None:
        super().__init__(text)
        self.text = text
        self.line = line


def act_out(source: str) -> str | None:
    """The directives that end or stall the run, in line order: `error` raises `ScriptedError`;
    `hang`, `crash`, `crash-once`, `abort` and `meet` act on this process; `silent` is returned
    (the caller exits 0 having written nothing). Shared with the stand-in elaborator (elab.py)."""
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.startswith(DIRECTIVE):
            continue
        action, _, text = line[len(DIRECTIVE) :].strip().partition(" ")
        if action == "error":
            raise ScriptedError(text, number)
        if action == "hang":
            time.sleep(3600)
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "crash-once" and not Path(text).exists():
            Path(text).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "abort":
            os.kill(os.getpid(), signal.SIGABRT)
        if action == "silent":
            return "silent"
        if action == "meet":
            mine, theirs = (Path(name) for name in text.split())
            mine.touch()
            while not theirs.exists():
                time.sleep(0.01)
    return None


def compile_record(
    source: str, module: str, options: dict[str, bool | int | str], threads: int | None
) -> dict[str, Any]:
    """The `Compiled` record of a source that compiles (after `act_out`): what the .olean holds,
    and what the stand-in elaborator exports."""
    axioms: list[str] | None = None
    for line in source.splitlines():
        if line.startswith(AXIOMS):
            axioms = line[len(AXIOMS) :].split()
    declared = declarations(source, module)
    kernel: str | None = None
    for line in source.splitlines():
        if line.startswith(DIRECTIVE):
            action, _, text = line[len(DIRECTIVE) :].strip().partition(" ")
            if action == "tamper-statement":
                for declaration in declared:
                    if declaration["kind"] == "theorem":
                        declaration["statement_sha256"] = sha256(normalized(text))
            elif action == "tamper-literal":
                for declaration in declared:
                    declaration["literals"].append(text.strip())
            elif action == "kernel-refuses":
                kernel = text.strip()
    return {
        "module": module,
        "source_sha256": sha256(source),
        "imports": [
            imported
            for line in source.splitlines()
            if (i := _IMPORT.match(line))
            for imported in i[1].split()
        ],
        "options": options,
        "threads": threads,
        "declarations": declared,
        "axioms": axioms,
        "kernel": kernel,
        "lean": os.environ.get(LEAN_VERSION_VARIABLE),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lean (stand-in)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-o", "--o", dest="olean", required=True)
    parser.add_argument("-R", "--root", dest="root")
    parser.add_argument("-D", dest="options", action="append", default=[])
    parser.add_argument("-j", "--threads", dest="threads")
    parser.add_argument("source")
    args = parser.parse_args(argv)
    if args.threads is not None and not args.threads.isdigit():
        print("error: expected numeric argument for option '-j'", file=sys.stderr)
        return 1
    try:
        options = parse_options(args.options)
    except OptionError as exc:
        if "unknown configuration option" not in str(exc):
            print(exc, file=sys.stderr)  # the shell itself refuses it, before any file is read
            return 1
        # checked once the imports are loaded: a message of the file, as its header's error
        where = {"line": 1, "column": 0}
        message = {"severity": "error", "pos": where, "endPos": None, "data": str(exc)}
        print(json.dumps(message | {"fileName": args.source, "caption": ""}))
        return 1
    try:
        module = module_name(args.source, args.root)
    except RootError as exc:
        print(exc, file=sys.stderr)
        return 1
    source = Path(args.source).read_text(encoding="utf-8")
    try:
        if act_out(source) == "silent":
            return 0
    except ScriptedError as exc:
        message = {
            "severity": "error",
            "pos": {"line": 3, "column": 2},
            "endPos": None,
            "data": exc.text,
            "fileName": args.source,
            "caption": "",
        }
        print(json.dumps(message) if args.json else f"{args.source}:3:2: error: {exc.text}")
        return 1
    threads = int(args.threads) if args.threads is not None else None
    compiled = compile_record(source, module, options, threads)
    Path(args.olean).write_bytes(OLEAN_MARKER + json.dumps(compiled).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
