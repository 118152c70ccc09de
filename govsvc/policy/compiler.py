"""Sources to a `Bundle`: parse, check, format, generate Python, compile once.

The public entry points (`load_bundle`, `compile_sources`, `check_sources`,
`format_source`) live here; `govsvc.policy` re-exports them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from govsvc.facts import MissingFact
from govsvc.policy import nodes as n
from govsvc.policy import runtime
from govsvc.policy.analysis import const_value
from govsvc.policy.bundle import Bundle, CompiledPolicy, CompiledRule, show
from govsvc.policy.checker import check_files, split_message
from govsvc.policy.codegen import VAR, ExprGen, Let, Source, TooLarge
from govsvc.policy.errors import (
    ERROR,
    Diagnostic,
    PolicyCheckError,
    PolicyError,
    PolicyEvaluationError,
    PolicySyntaxError,
)
from govsvc.policy.formatter import format_file
from govsvc.policy.parser import parse_expression, parse_lenient, parse_source
from govsvc.policy.printer import expr_text
from govsvc.risk.model import (
    DEFAULT_EXPOSURE,
    DEFAULT_SCORE,
    EscalationRule,
    ExposureSpec,
    MetricWeight,
    RiskModel,
    ScoreSpec,
    SourceRef,
    TierRule,
)

log = logging.getLogger(__name__)

SUFFIX = ".policy"
DEFAULT_ON_MISSING = "review"


# ---- reading ---------------------------------------------------------------------


def decode(data: bytes, filename: str) -> str:
    """Policy files are UTF-8 text; anything else is one clear diagnostic."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicySyntaxError(
            [
                Diagnostic(
                    "P009",
                    filename,
                    line,
                    column,
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                    "policy files are UTF-8",
                )
            ]
        ) from None


def read_sources(*paths: str | Path) -> dict[str, str]:
    """The `*.policy` files under each path (a directory or a file), by display name."""
    sources: dict[str, str] = {}
    errors: list[Diagnostic] = []
    for path in map(Path, paths):
        if path.is_dir():
            # Flat, as the service reads its directory: one bundle, one level.
            files = sorted(p for p in path.glob(f"*{SUFFIX}") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise PolicyError(
                [
                    Diagnostic(
                        "P010",
                        str(path),
                        1,
                        1,
                        f"{path} does not exist; give a policy file or "
                        "a directory of them",
                    )
                ]
            )
        for file in files:
            name = file.as_posix()
            try:
                sources[name] = decode(file.read_bytes(), name)
            except PolicySyntaxError as exc:
                errors.extend(exc.diagnostics)
    if errors:
        raise PolicySyntaxError(errors)
    if not sources:
        raise PolicyError(
            [
                Diagnostic(
                    "P010",
                    ", ".join(map(str, paths)),
                    1,
                    1,
                    "no *.policy files found; a bundle without "
                    "policies would allow everything",
                )
            ]
        )
    return sources


# ---- the public API ----------------------------------------------------------------


def parse_all(sources: Mapping[str, str]) -> tuple[list[n.File], list[Diagnostic]]:
    files: list[n.File] = []
    diagnostics: list[Diagnostic] = []
    for name in sorted(sources):
        try:
            files.append(parse_source(sources[name], name))
        except PolicySyntaxError as exc:
            diagnostics.extend(exc.diagnostics)
    return files, diagnostics


def check_sources(sources: Mapping[str, str]) -> list[Diagnostic]:
    """Every diagnostic of every file, sorted; empty when the bundle is good."""
    files: list[n.File] = []
    diagnostics: list[Diagnostic] = []
    for name in sorted(sources):
        # What parses is checked too, so one run shows every error of a file.
        file, found = parse_lenient(sources[name], name)
        diagnostics.extend(found)
        if file is not None:
            files.append(file)
    diagnostics.extend(check_files(files))
    return sorted(diagnostics, key=Diagnostic.sort_key)


def format_source(text: str, filename: str = "<policy>") -> str:
    """The canonical text; raises PolicySyntaxError when the text does not parse."""
    return format_file(parse_source(text, filename))


def load_bundle(path: str | Path) -> Bundle:
    """Compile a directory of `*.policy` files (tests included) or one file."""
    return compile_sources(read_sources(path))


def compile_sources(sources: Mapping[str, str]) -> Bundle:
    """Compile {file name: text}; raises PolicyError with every diagnostic."""
    if not sources:
        raise PolicyError(
            [
                Diagnostic(
                    "P010",
                    "<bundle>",
                    1,
                    1,
                    "no policy files; a bundle without policies would allow everything",
                )
            ]
        )
    files, diagnostics = parse_all(sources)
    if diagnostics:
        raise PolicySyntaxError(diagnostics, dict(sources))
    diagnostics = [d for d in check_files(files) if d.severity == ERROR]
    if diagnostics:
        raise PolicyCheckError(diagnostics, dict(sources))

    canonical = {file.name: format_file(file) for file in files}
    try:
        return _Compiler(files, canonical).bundle()
    except (TooLarge, RecursionError, MemoryError, SyntaxError) as exc:
        # Python's own compiler has limits the checker cannot foresee exactly.
        log.debug("compiling the bundle failed: %r", exc)
        first = files[0].name if files else "<bundle>"
        raise PolicyCheckError(
            [
                Diagnostic(
                    "P005",
                    first,
                    1,
                    1,
                    "the policies expand to more code than govsvc compiles (lets "
                    "built from lets, or very long expressions); simplify them",
                )
            ],
            dict(sources),
        ) from None


def bundle_digest(canonical: Mapping[str, str]) -> str:
    """SHA-256 over, for each file in name order, name NUL text NUL (UTF-8).

    The name is the file's base name (`fairness.policy`), so the digest does not
    depend on the directory the files were read from: `govsvc policy eval policies/`
    and the service, which stores files by base name, agree.
    """
    digest = hashlib.sha256()
    for path in sorted(canonical, key=lambda p: (PurePosixPath(p).name, p)):
        name = PurePosixPath(path).name
        digest.update(name.encode() + b"\x00" + canonical[path].encode() + b"\x00")
    return f"sha256:{digest.hexdigest()}"


# ---- code generation ---------------------------------------------------------------


class _Compiler:
    def __init__(self, files: list[n.File], canonical: dict[str, str]) -> None:
        self.files = files
        self.canonical = canonical
        self.gen = ExprGen()
        self.code = Source()
        self.fast = Source()
        self.rules: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.conditions: list[tuple[str, n.Expr, dict[str, Any], n.Item, str, str]] = []
        self.risk: dict[str, Any] = {
            "placement": [],
            "escalation": [],
            "metrics": [],
            "attributes": {},
            "exposure": {},
        }

    def bundle(self) -> Bundle:
        self.fast.add("def _fast(facts, fired):")
        self.fast.depth = 1
        self.fast.add("pass")
        for file in self.files:
            for policy in file.policies:
                self.policy(file, policy)

        source = self.code.text() + "\n" + self.fast.text()
        namespace: dict[str, Any] = {
            "_walk": runtime.walk,
            "_walk2": runtime.walk2,
            "_has": runtime.has,
            "_values": runtime.values,
            "_pairs": runtime.pairs,
            "_items1": runtime.items1,
            "_items2": runtime.items2,
            "_truth": runtime.truth,
            "_number": runtime.number,
            "_nn": runtime.not_null,
            "_E": runtime.FAST_ERRORS,
            "_SE": (MissingFact, *runtime.FAST_ERRORS),
            "_try": _try,
            "_show": show,
        }
        exec(compile(source, "<policy bundle>", "exec"), namespace)

        rules = [
            CompiledRule(
                index=r["index"],
                policy=r["policy"],
                file=r["file"],
                line=r["line"],
                effect=r["effect"],
                name=r["name"],
                on_missing=r["on_missing"],
                slow=namespace[f"_slow_{r['index']}"],
                render=namespace[f"_reason_{r['index']}"],
            )
            for r in self.rules
        ]
        policies = [
            CompiledPolicy(
                p["name"],
                p["file"],
                p["line"],
                p["on_missing"],
                [rules[i] for i in p["rules"]],
                namespace.get(f"_applies_{p['index']}"),
            )
            for p in self.policies
        ]
        log.debug(
            "compiled %d file(s), %d policies, %d rules into %d lines of Python",
            len(self.files),
            len(policies),
            len(rules),
            source.count("\n"),
        )
        return Bundle(
            sources=self.canonical,
            digest=bundle_digest(self.canonical),
            risk_model=self.risk_model(namespace),
            files=self.files,
            _policies=policies,
            _rules=rules,
            _fast=namespace["_fast"],
            python_source=source,
        )

    # ---- policies ----------------------------------------------------------------

    def policy(self, file: n.File, policy: n.Policy) -> None:
        index = len(self.policies)
        on_missing = next(
            (i.effect for i in policy.items if isinstance(i, n.OnMissing)),
            DEFAULT_ON_MISSING,
        )
        record: dict[str, Any] = {
            "index": index,
            "name": policy.name,
            "file": file.name,
            "line": policy.pos.line,
            "on_missing": on_missing,
            "rules": [],
        }
        self.policies.append(record)
        env: dict[str, Any] = {}
        constants: dict[str, n.Expr] = {}

        applies = next((i for i in policy.items if isinstance(i, n.Applies)), None)
        base_depth = self.fast.depth
        if applies is not None:
            self.code.add(f"def _applies_{index}(facts):")
            self.code.add(f"    return _truth({self.gen.safe(applies.condition, env)})")
            self.fast.add("try:")
            self.fast.add(f"    _ok = {self.gen.fast_value(applies.condition, env)}")
            self.fast.add("except _E:")
            self.fast.add("    _ok = False")
            self.fast.add(f"    fired.append(({-index - 1}, None))")
            self.fast.add("if _ok:")
            self.fast.depth += 1
            self.fast.add("pass")

        rule_count = 0
        for item in policy.items:
            if isinstance(item, n.Let):
                # A let that reads no fact becomes its value: no code, no growth.
                value = const_value(item.value, constants)
                constant = (
                    value if isinstance(value, float | str | bool | list) else None
                )
                if constant is not None:
                    constants[item.name] = n.Literal(item.pos, constant, "")
                env[item.name] = Let(item.value, dict(env), constant)
            elif isinstance(item, n.Rule):
                rule_count += 1
                record["rules"].append(len(self.rules))
                self.rule(file, policy, on_missing, item, env, rule_count)
            elif isinstance(item, n.Tiers):
                self.risk["tiers"] = tuple(name for name, _ in item.names)
            elif isinstance(item, n.TierRule | n.Escalate):
                self.conditions.append(
                    (
                        "tier" if isinstance(item, n.TierRule) else "escalate",
                        item.condition,
                        dict(env),
                        item,
                        file.name,
                        policy.name,
                    )
                )
            elif isinstance(item, n.LowerAfter):
                self.risk["lower"] = item.count
            elif isinstance(item, n.MinGroup):
                self.risk["min_group"] = item.size
            elif isinstance(item, n.ScoreMetric):
                self.risk["metrics"].append(
                    MetricWeight(item.metric, item.weight.value, item.tolerance.value)
                )
            elif isinstance(item, n.ScoreAttribute):
                self.risk["attributes"][item.attribute] = item.weight.value
            elif isinstance(item, n.ScoreOther):
                self.risk["other"] = item.weight.value
            elif isinstance(item, n.Exposure):
                self.risk["exposure"][item.component] = item.weight.value
        self.fast.depth = base_depth

    def rule(
        self,
        file: n.File,
        policy: n.Policy,
        on_missing: str,
        rule: n.Rule,
        env: dict[str, Any],
        ordinal: int,
    ) -> None:
        index = len(self.rules)
        name = rule.name or f"{rule.effect}-{ordinal}"
        inner = dict(env)
        names: list[str] = []
        for loop in rule.loops:
            for loop_name in loop.names:
                inner[loop_name] = VAR
                names.append(loop_name)
        bindings = "(" + "".join(f"v_{x}, " for x in names) + ")"

        # Fast: inside the bundle's one function; any exception sends the rule to slow.
        fast = self.fast
        fast.add(f"# {policy.name}/{name} at {file.name}:{rule.pos.line}")
        if rule.loops:  # only a loop can have fired before it fails
            fast.add("_n = len(fired)")
        fast.add("try:")
        fast.depth += 1
        depth = fast.depth
        loop_env = dict(env)
        for loop in rule.loops:
            source = self.gen.fast(loop.source, loop_env)
            if len(loop.names) == 1:
                fast.add(f"for v_{loop.names[0]} in _values({source}):")
            else:
                fast.add(
                    f"for v_{loop.names[0]}, v_{loop.names[1]} in _pairs({source}):"
                )
            for loop_name in loop.names:
                loop_env[loop_name] = VAR
            fast.depth += 1
        fast.add(f"if {self.gen.fast_value(rule.condition, inner)}:")
        fast.add(f"    fired.append(({index}, {bindings}))")
        fast.depth = depth - 1
        fast.add("except _E:")
        if rule.loops:
            fast.add("    del fired[_n:]")
        fast.add(f"    fired.append(({index}, None))")

        # Slow: one function per rule; a failing iteration does not stop the others.
        code = self.code
        code.add(f"def _slow_{index}(facts, fire, fail):")
        code.depth = 1
        loop_env = dict(env)
        for number, loop in enumerate(rule.loops):
            code.add("try:")
            code.add(
                f"    _s{number} = list(_items{len(loop.names)}"
                f"(*{self.gen.pair(loop.source, loop_env)}))"
            )
            code.add("except _SE as exc:")
            code.add("    fail(exc)")
            code.add("    return" if number == 0 else "    continue")
            if len(loop.names) == 1:
                code.add(f"for p_{loop.names[0]}, v_{loop.names[0]} in _s{number}:")
            else:
                key, value = loop.names
                code.add(f"for p_{value}, v_{key}, v_{value}, p_{key} in _s{number}:")
            for loop_name in loop.names:
                loop_env[loop_name] = VAR
            code.depth += 1
        code.add("try:")
        code.add(f"    if _truth({self.gen.safe(rule.condition, inner)}):")
        code.add(f"        fire({bindings})")
        code.add("except _SE as exc:")
        code.add("    fail(exc)")
        code.depth = 0

        # The reason of a firing: observed value, threshold and message, computed
        # only when the rule fired. Fast versions first, safe ones when they raise.
        template, placeholders = self.template(rule.message)
        message_env = dict(inner)
        message_env["value"] = VAR
        message_env["threshold"] = VAR

        # A threshold that is a constant is shown once, here, not per reason: it is
        # that constant, or None (shown "?") when the figures could not be computed.
        known, threshold = self.gen.threshold(rule.condition, inner)
        shown_threshold = (
            f"({show(threshold)!r} if v_threshold is not None else '?')"
            if known
            else "_show(v_threshold)"
        )

        def message(values: list[str], fast: bool = False) -> str:
            parts = []
            value_iter = iter(values)
            for literal, has_value in template:
                if literal:
                    parts.append(repr(literal))
                if has_value:
                    code = next(value_iter)
                    if fast and code == "v_threshold":
                        parts.append(shown_threshold)
                    else:
                        parts.append(f"_show({code})")
            if not fast or len(parts) < 3:
                return " + ".join(parts) or "''"
            # One join builds the message once, where a chain of + copies it anew at
            # every part.
            return f"''.join(({', '.join(parts)}))"

        code.add(f"def _reason_{index}(facts, b):")
        code.lines.extend(
            f"    v_{x} = b[{i}]; p_{x} = None" for i, x in enumerate(names)
        )
        code.add("    p_value = p_threshold = None")
        code.add("    try:")
        code.add(
            "        v_value, v_threshold = "
            f"{self.gen.observe(rule.condition, inner, safe=False)}"
        )
        code.add("    except _E:")
        code.add("        try:")
        code.add(
            "            v_value, v_threshold = "
            f"{self.gen.observe(rule.condition, inner)}"
        )
        code.add("        except Exception:  # only the figures are unknown then")
        code.add("            v_value = v_threshold = None")
        fast_message = message(
            [self.gen.fast(p, message_env) for p in placeholders], fast=True
        )
        safe_message = message(
            [f"_try(lambda: {self.gen.safe(p, message_env)})" for p in placeholders]
        )
        code.add("    try:")
        code.add(f"        return v_value, v_threshold, {fast_message}")
        code.add("    except _E:")
        code.add(f"        return v_value, v_threshold, {safe_message}")

        self.rules.append(
            {
                "index": index,
                "policy": policy.name,
                "file": file.name,
                "line": rule.pos.line,
                "effect": rule.effect,
                "name": name,
                "on_missing": on_missing,
            }
        )

    def template(self, message: str) -> tuple[list[tuple[str, bool]], list[n.Expr]]:
        template: list[tuple[str, bool]] = []
        placeholders: list[n.Expr] = []
        for literal, placeholder, _offset in split_message(message):
            if placeholder is None:
                template.append((literal, False))
                continue
            expr = parse_expression(placeholder)
            assert expr is not None  # the checker has read every placeholder
            placeholders.append(expr)
            template.append((literal, True))
        return template, placeholders

    # ---- risk ------------------------------------------------------------------------

    def risk_model(self, namespace: dict[str, Any]) -> RiskModel:
        placement: list[TierRule] = []
        escalation: list[EscalationRule] = []
        if self.conditions:
            source = Source()
            for k, (_kind, expr, env, _item, _file, _policy) in enumerate(
                self.conditions
            ):
                source.add(f"def _cf_{k}(facts):")
                source.add(f"    return {self.gen.fast_value(expr, env)}")
                source.add(f"def _cs_{k}(facts):")
                source.add(f"    return _truth({self.gen.safe(expr, env)})")
            exec(compile(source.text(), "<policy risk>", "exec"), namespace)

        for k, (kind, expr, _env, item, file, policy) in enumerate(self.conditions):
            condition = _condition(namespace[f"_cf_{k}"], namespace[f"_cs_{k}"])
            ref = SourceRef(file, item.pos.line, policy)
            if kind == "tier":
                assert isinstance(item, n.TierRule)
                placement.append(TierRule(item.tier, condition, ref, expr_text(expr)))
            else:
                assert isinstance(item, n.Escalate)
                escalation.append(
                    EscalationRule(item.steps, condition, ref, expr_text(expr))
                )

        risk = self.risk
        score = DEFAULT_SCORE
        if risk["metrics"] or risk["attributes"] or "other" in risk:
            score = ScoreSpec(
                metrics=tuple(risk["metrics"]) or DEFAULT_SCORE.metrics,
                attribute_weights=dict(risk["attributes"]),
                default_attribute_weight=risk.get("other", 1.0),
            )
        exposure = (
            ExposureSpec(dict(risk["exposure"]))
            if risk["exposure"]
            else DEFAULT_EXPOSURE
        )
        defaults = RiskModel()
        return RiskModel(
            tiers=risk.get("tiers", defaults.tiers),
            placement=tuple(placement),
            escalation=tuple(escalation),
            clean_evaluations_to_lower=risk.get(
                "lower", defaults.clean_evaluations_to_lower
            ),
            min_group_size=risk.get("min_group", defaults.min_group_size),
            score=score,
            exposure=exposure,
        )


def _try(thunk: Any) -> Any:
    try:
        return thunk()
    except Exception:  # a placeholder that cannot be shown prints as "?"
        return "?"


def _condition(fast: Any, safe: Any) -> Any:
    """A risk condition: the fast version, or the safe one that names a missing fact."""

    def condition(facts: Any) -> bool:
        try:
            return bool(fast(facts))
        except runtime.FAST_ERRORS:
            pass
        try:
            return bool(safe(facts))
        except runtime.FAST_ERRORS as exc:
            raise PolicyEvaluationError(
                f"cannot evaluate the condition: {exc}; check the facts' types "
                "against the fact schema"
            ) from exc

    return condition
