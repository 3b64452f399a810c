"""YAML within bounds: no alias bombs, no nesting deeper than a pricing table or config needs.

PyYAML expands every alias into the loaded value, so nine nested anchors make 10^9 strings
(a "billion laughs"), and deep nesting overflows its recursive constructor. The event stream is
flat, so one pass over it measures both before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml

# Pricing tables nest about 8 levels deep, costops.yaml about 5.
MAX_DEPTH = 64
# Nodes that aliases may add on top of the document's own: plenty for sharing a block or two.
MAX_ALIAS_NODES = 10_000

# libyaml's parser and loader where PyYAML has them: the packaged tables hold thousands of models
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlTooComplex(ValueError):
    """The document nests too deeply or its aliases expand too far; `line` is 1-based."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(f"line {line}: {problem}")
        self.problem = problem
        self.line = line


def load(text: str) -> Any:
    """The document in `text`, after check_bounds. Raises yaml.YAMLError or YamlTooComplex."""
    check_bounds(text)
    return yaml.load(text, Loader=LOADER)


def load_file_text(text: str, name: str) -> Any:
    """The document in `text` of the user's file `name` (None for an empty one); a bad one is a
    one-line ConfigError naming the file and the line."""
    from costops.errors import ConfigError

    try:
        return load(text)
    except YamlTooComplex as exc:
        raise ConfigError(f"{name}: refused: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{name}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from exc


def check_bounds(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and aliases adding more than MAX_ALIAS_NODES."""
    sizes: dict[str, int] = {}  # anchor → nodes its value expands to
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes so far) per open collection
    added = 0
    for event in yaml.parse(text, Loader=LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise YamlTooComplex(f"nested more than {MAX_DEPTH} levels deep", line)
            open_nodes.append((event.anchor, 1))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(str(event.anchor), 1)
            added += size
            if added > MAX_ALIAS_NODES:
                raise YamlTooComplex(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} values "
                    "(write the values out, or share less)",
                    line,
                )
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        if open_nodes:
            parent_anchor, parent_size = open_nodes[-1]
            open_nodes[-1] = (parent_anchor, parent_size + size)
