"""A small Dockerfile reader: stages, instructions, exec-form arguments, ``.dockerignore`` matching.

Enough to check deploy/docker/Dockerfile and to run its serving command in tests; not a full parser
(no heredocs, no escape-directive changes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN (a shell-form one is an error)."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = f" {text}".split(" CMD ", 1)[-1]
        value = json.loads(text)
        if not (isinstance(value, list) and all(isinstance(part, str) for part in value)):
            raise ValueError(f"line {self.line}: {self.keyword} is not an exec-form JSON array of strings")
        return value


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise LookupError(f"stage {self.name!r} has no {keyword}")
        return found[-1]

    def text(self) -> str:
        return "\n".join(f"{i.keyword} {i.arguments}" for i in self.instructions)


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @classmethod
    def read(cls, path: Path = DOCKERFILE) -> Dockerfile:
        args: dict[str, str] = {}
        stages: list[Stage] = []
        for number, keyword, arguments in _logical_lines(path.read_text()):
            if keyword == "ARG" and not stages:
                name, _, default = arguments.partition("=")
                args[name.strip()] = default.strip()
            elif keyword == "FROM":
                parts = arguments.split()
                parts = [p for p in parts if not p.startswith("--")]
                base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), parts[0])
                name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
                stages.append(Stage(name=name, base=base))
            elif stages:
                stages[-1].instructions.append(Instruction(keyword, arguments, number))
            else:
                raise ValueError(f"line {number}: {keyword} before the first FROM")
        return cls(args=args, stages=stages)

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise LookupError(f"no stage named {name!r}")


def _logical_lines(text: str) -> list[tuple[int, str, str]]:
    """(first line number, KEYWORD, arguments) with continuations joined and comments dropped."""
    lines: list[tuple[int, str, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        lines.append((start, keyword.upper(), arguments.strip()))
        pending = []
    if pending:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return lines


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def dockerignore_excludes(path: str, ignore_file: Path = DOCKERIGNORE) -> bool:
    """Whether ``path`` (relative, with /) is left out of the build context: the last matching line wins,
    and a line that matches a directory matches everything in it."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for line in ignore_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern_regex(line.lstrip("!").strip("/").removeprefix("./"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return excluded
