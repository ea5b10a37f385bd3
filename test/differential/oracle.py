"""Reference side of vh's differential run: valohai-yaml (0.57) builds the commands, valohai-cli
(0.35, click 8) types the option values. Dev-only: see README.md beside this file.

Reads JSON lines (cases) on stdin, writes one JSON result line per case on stdout.
Case kinds:
  lib: {yaml, step, values}      -> step.build_command(values)  (values tagged, see enc/dec)
  api: {yaml, step, valuesJson}  -> json.loads, a flag's YAML default where none is given (as vh's
                                    server does), Parameter.validate on each value, build_command
  cli: {yaml, step, argv}        -> valohai-cli's option parsing (its `run` command, then the
                                    step's RunCommand, with the argv after `--` so that every
                                    option is the step's), the request's parameters, then
                                    Parameter.validate and build_command (the platform's part,
                                    inferred); inputs are made optional (a dry run needs none)
  fmt: {items: [[spec, value]]}  -> format(value, spec), or shlex.quote(value) where spec is null
"""
import datetime
import io
import json
import sys
import warnings
import contextlib

import click
from valohai_yaml import parse
from valohai_yaml.excs import ValidationErrors
from valohai_cli.commands.execution.run.frontend_command import run as run_cmd
from valohai_cli.commands.execution.run.dynamic_run_command import RunCommand
from valohai_cli.exceptions import CLIException


def enc(v):
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {"d": {str(k): enc(x) for k, x in v.items()}}
    return {"o": str(v), "r": repr(v)}


def dec(v):
    if isinstance(v, list):
        return [dec(x) for x in v]
    if isinstance(v, dict):
        if "i" in v:
            return int(v["i"])
        if "f" in v:
            return float(v["f"])
        if "d" in v:
            return {k: dec(x) for k, x in v["d"].items()}
        raise ValueError(v)
    return v


class FakeProject:
    id = "p"
    name = "p"


_cache = {}


def load_step(case):
    config = _cache.get(case["yaml"])
    if config is None:
        config = _cache[case["yaml"]] = parse(case["yaml"])
    return config.steps[case["step"]]


def build(step, values):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cmds = step.build_command(values)
    return cmds, [str(x.message) for x in w]


def platform_validate(step, values):
    """What the platform does with the payload parameters (inferred: Parameter.validate)."""
    out = {}
    errors = []
    for name, value in values.items():
        param = step.parameters.get(name)
        if param is None:
            continue
        if value is None or (isinstance(value, (list, tuple)) and not param.multiple and False):
            if not param.optional and param.type != "flag":
                errors.append(f"{name}: No value supplied")
            out[name] = None
            continue
        try:
            out[name] = param.validate(list(value) if isinstance(value, tuple) else value)
        except ValidationErrors as e:
            errors.append(f"{name}: " + "; ".join(e.args[0] if e.args and isinstance(e.args[0], list) else [str(e)]))
    return out, errors


def run_lib(case):
    step = load_step(case)
    values = {k: dec(v) for k, v in case["values"].items()}
    cmds, warns = build(step, values)
    return {"ok": True, "commands": cmds, "warnings": warns}


def run_api(case):
    step = load_step(case)
    values = json.loads(case["valuesJson"])
    # vh's server passes a flag's YAML default when the request has no value for it (as
    # valohai-cli's options do); valohai-yaml's build_command alone would not.
    for name, param in step.parameters.items():
        if param.type == "flag" and name not in values and param.default is not None:
            values[name] = bool(param.default) if not isinstance(param.default, str) else param.default.strip().lower() in ("yes", "y", "true", "1", "on", "t")
    validated, errors = platform_validate(step, values)
    for name, param in step.parameters.items():
        if name not in values and param.default is None and not param.optional:
            errors.append(f"{name}: required")
    if errors:
        return {"ok": False, "error": "validate", "message": "\n".join(errors)}
    cmds, warns = build(step, validated)
    return {"ok": True, "commands": cmds, "warnings": warns, "parameters": {k: enc(v) for k, v in validated.items()}}


# A dry run needs no inputs (vh only warns about missing ones): compare parameters only.
_orig_input_option = RunCommand.convert_input_to_option


def _optional_input_option(input):
    opt = _orig_input_option(input)
    opt.required = False
    return opt


RunCommand.convert_input_to_option = staticmethod(_optional_input_option)


def run_cli(case):
    step = load_step(case)
    # Every generated option is meant for the step: `--` makes valohai-cli give them all to the
    # step (its own options would otherwise win over a parameter named e.g. `title`), which is
    # what vh does after STEP.
    argv = [case["step"], *([] if case["argv"][:1] == ["--"] else ["--"]), *case["argv"]]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            ctx = run_cmd.make_context("run", list(argv))
            p = ctx.params
            rc = RunCommand(
                project=FakeProject(),
                step=step,
                commit="c",
                environment=p.get("environment"),
                image=p.get("image"),
                title=p.get("title"),
                tags=p.get("tags"),
            )
            with rc.make_context(rc.name, list(p["args"]), parent=ctx) as cctx:
                payload = rc._build_payload(**cctx.params)
    except click.ClickException as e:
        return {"ok": False, "error": type(e).__name__, "message": e.format_message()}
    except CLIException as e:
        return {"ok": False, "error": "CLIException", "message": str(e)}
    except Exception as e:  # a crash of the reference
        return {"ok": False, "error": "crash:" + type(e).__name__, "message": str(e)}
    params = payload["parameters"]
    validated, errors = platform_validate(step, params)
    fixed = {k: payload.get(k) for k in ("title", "image") if payload.get(k) is not None}
    if errors:
        return {"ok": False, "error": "validate", "message": "\n".join(errors), "payload": {k: enc(v) for k, v in params.items()}}
    try:
        cmds, warns = build(step, validated)
    except Exception as e:
        return {"ok": False, "error": "build:" + type(e).__name__, "message": str(e), "payload": {k: enc(v) for k, v in params.items()}}
    return {
        "ok": True,
        "commands": cmds,
        "warnings": warns,
        "parameters": {k: enc(v) for k, v in params.items()},
        "fixed": fixed,
    }


def run_fmt(case):
    from shlex import quote
    out = []
    for spec, v in case["items"]:
        v = dec(v)
        try:
            r = format(v, spec) if spec is not None else quote(v)
            out.append(["ok", r])
        except Exception as e:
            out.append(["err", type(e).__name__, str(e)])
    return {"ok": True, "commands": out}


def main():
    for line in sys.stdin:
        case = json.loads(line)
        try:
            fn = {"lib": run_lib, "api": run_api, "cli": run_cli, "fmt": run_fmt}[case["kind"]]
            res = fn(case)
        except Exception as e:
            res = {"ok": False, "error": "crash:" + type(e).__name__, "message": str(e)}
        res["id"] = case["id"]
        sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
