"""Generates differential cases (JSON lines) from a valohai.yaml corpus and from random synthetic
steps; argv: SEED SYNTHETIC_STEPS [CORPUS_DIR [FORMAT_CASES]]. Dev-only: see README.md beside this file."""
import glob
import json
import math
import random
import sys

from valohai_yaml import parse
from valohai_cli.utils import sanitize_option_name

rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N_SYNTH = int(sys.argv[2]) if len(sys.argv) > 2 else 400

FLOATS = [0.0, -0.0, 1.0, -1.0, 0.1, 0.001, 1e-4, 1e-5, 1.5e-7, 1e15, 1e16, 9999999999999998.0, 1.2345678901234567e16,
          123456789012345680.0, 1e22, 1e300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.5, 2.5, -2.5,
          1/3, 2/3, 100.0, 1e-3, 12345.678, math.inf, -math.inf, math.nan, 3.0e-5, 1e21, 1e-7, 0.125, 0.375, 2.675, 1.005,
          1e23, 9.5, 99.5, 999.5, 5e-5, 1.0000000000000002, 0.30000000000000004, 9007199254740993.0, 4.35, 1234.5678,
          9.995, 0.045, 1e-300, 123456789.0, 0.000123456, 99999999999999.99, 1e100, 2.5e-8]
INTS = [0, 1, -1, 7, 10, 255, -255, 1000, 2**31, 2**53 - 1, 2**53, 2**53 + 1, 12345678901234567, -12345678901234567,
        98765432109876543210, 10**30, -(10**25) - 7, 2**64]
STRINGS = ["--fast", "-v", "--x=1", "-", "--", "", "a", "a b", "O'Neil", "ä", "日本語", "a*b", "@%+=:,./-_", '"', "\\", "$HOME", "{v}", "{parameters}", "--x", "-1",
           "1.0", "True", "tab\there", "new\nline", "🙂", " lead", "trail ", "٣", "१२", "１２", "1_000", " 5 ", "+5", "-0",
           "0x10", "1e5", "inf", "nan", "Infinity", "-inf", "1e400", "12345678901234567", "x=y", "a,b", "'", "''", "a'b\"c",
           "null", "None", "~", "[1, 2]", "{}", "%s", "*", "?", "#", "!", "&&", ";", "`x`", "$(x)"]
CLI_INT = ["0", "7", "-3", "+4", " 5 ", "1_000", "٣", "१२", "１２", "12345678901234567", "-98765432109876543210", "007", "0x10",
           "1.5", "1e3", "", "abc", "٣.٥", "\u00a05\u00a0", "1__0", "_1", "-0", "2**3", "𝟕"]
CLI_FLOAT = ["0", "1", "-0", "-0.0", "0.1", "1e-7", "1e16", "1E+16", "1e400", "-1e400", "inf", "-inf", "nan", "Infinity", "NaN",
             " 2.5 ", "1_0.5", "٣.٥", "١٢٣", "12345678901234567", "1e-400", ".5", "5.", "abc", "", "0x10", "1,5", "4.9e-324",
             "0.30000000000000004", "123456789.123456789", "-.5e-3"]
CLI_FLAG = ["t", "f", "", "yes", "no", "1", "0", "true", "false", "on", "off", "y", "n", "TRUE", " yes ", "maybe", "T", "F", "Y"]
CLI_STR = STRINGS

TEMPLATES = [None, None, None, "--{name}={value}", "-{name} {value}", "--{name}={v:d}", "--{name}={v:.3f}", "--{name}={v:>8}",
             "--{name}={v!r}", "--{name}={v.real}", "--{name}={0}", "--{name}={}", "{v}", "--{name} {v:,}", "--x={v:e}",
             "--x={v:g}", "--x={v:%}", "--x={v:x}", "--x={v:b}", "--x={v:08.2f}", "--x={v:+d}", "--x={v:_d}", "--x={v.imag}",
             "--x={v.numerator}", "--x={value[0]}", "--x={v:s}", "--x={v!s:>5}", "--x={v:.2}", "--x={v:n}", "--x={v:#x}",
             "--x={v:=+10d}", "--x={v:^9}", "--x={w}", "--x={v:q}", "--x={{v}}", "--x={v}}", "--x={v.denominator}",
             "--x={v:.0f}", "--x={v:.1e}", "--x={v:.15g}", "--x={v:.17g}", "--x={v:z.1f}", "--x={v:c}", "--x={v!a}"]
FLAG_TEMPLATES = [None, None, "--{name}", "--{name}={v}", "--{name}={v:d}", "-f"]
NAMES = ["lr", "x", "max_steps", "Batch Size", "epochs", "title", "image", "project", "json", "yaml", "dry-run", "watch", "adhoc",
         "gpus", "joiner", "var", "help", "Title", "parameter-file", "name", "v", "ñame", "a.b"]

INT_DEFAULT_LIT = ["0", "7", "-7", "12345678901234567", "-12345678901234567", "98765432109876543210", "0x1F", "0o17", "017", "1_000",
                   "0.5", "1.5", "yes", "no", "true", "1e-4", "1.0e+16", "1e+16", "'7'", "'abc'", "\"12345678901234567\"", "~",
                   "-0.0", "2.0", "1:30", "0b101", ".inf", "2020-01-01", "'1_0'", "'٣'", "1.5e300", "'1.5'", "3"]
FLOAT_DEFAULT_LIT = ["0.001", "1.0", "1", "0", "-0.0", "1e-4", "1.0e-4", "1.0e+16", "1e+16", "12345678901234567", ".inf", "-.inf",
                     ".nan", "yes", "no", "'0.5'", "'abc'", "0.1", "2.5", "1_000.5", "5e-324", "~", "1.7976931348623157e+308",
                     "98765432109876543210", "'1e400'", "100"]
STR_DEFAULT_LIT = ["abc", "'a b'", "1", "1.5", "yes", "no", "1e-4", "2020-01-01", "12345678901234567", "'O''Neil'", "ä", "~",
                   "-0.0", "0x10", "'{v}'", "\"tab\\there\"", "[a, b]", "1.0e+16", "0.0001", "1e+16"]
FLAG_DEFAULT_LIT = ["true", "false", "yes", "no", "1", "0", "'yes'", "'t'", "~", "on", "off"]


def lit_value(text):
    import yaml
    return yaml.safe_load("x: " + text)["x"]


def synth_param(used):
    name = rng.choice(NAMES)
    while sanitize_option_name(name).lower() in used:
        name = rng.choice(NAMES) + str(rng.randint(0, 9))
    used.add(sanitize_option_name(name).lower())
    t = rng.choice(["string", "integer", "float", "flag", None, "integer", "float"])
    lines = [f"      - name: {json.dumps(name)}"]
    if t:
        lines.append(f"        type: {t}")
    multiple = None
    if t != "flag" and rng.random() < 0.25:
        multiple = rng.choice(["repeat", "separate"])
        lines.append(f"        multiple: {multiple}")
        if multiple == "separate" and rng.random() < 0.3:
            lines.append(f"        multiple-separator: {json.dumps(rng.choice([' ', ';', ', ', '']))}")
    if rng.random() < 0.7:
        pool = {"integer": INT_DEFAULT_LIT, "float": FLOAT_DEFAULT_LIT, "flag": FLAG_DEFAULT_LIT}.get(t, STR_DEFAULT_LIT)
        if multiple and rng.random() < 0.5:
            lines.append(f"        default: [{', '.join(rng.choice(pool) for _ in range(rng.randint(0, 3)))}]")
        else:
            lines.append(f"        default: {rng.choice(pool)}")
    if rng.random() < 0.2:
        lines.append("        optional: true")
    tpl = rng.choice(FLAG_TEMPLATES if t == "flag" else TEMPLATES)
    if tpl:
        lines.append(f"        pass-as: {json.dumps(tpl)}")
    if t == "flag" and rng.random() < 0.2:
        lines.append("        pass-true-as: --yes-{name}")
        if rng.random() < 0.5:
            lines.append("        pass-false-as: --no-{name}")
    return name, lines


def synth_yaml():
    used = set()
    params = [synth_param(used) for _ in range(rng.randint(1, 5))]
    cmd = ["python t.py {parameters}"]
    if rng.random() < 0.3:
        n = rng.choice(params)[0]
        cmd.append(f"echo {{parameter:{n}}} {{parameter-value:{n}}}")
    out = ["- step:", "    name: s", "    image: python:3.12", "    command:"]
    out += [f"      - {json.dumps(c)}" for c in cmd]
    out.append("    parameters:")
    for _, lines in params:
        out += lines
    return "\n".join(out) + "\n"


def rand_float():
    r = rng.random()
    if r < 0.4:
        return rng.choice(FLOATS)
    if r < 0.8:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
    return float(rng.randint(-10**6, 10**6)) / 10 ** rng.randint(0, 8)


def rand_int():
    if rng.random() < 0.5:
        return rng.choice(INTS)
    return rng.randint(-10 ** rng.randint(1, 25), 10 ** rng.randint(1, 25))


def typed_value(p):
    t = p.type
    def atom():
        r = rng.random()
        if r < 0.08:  # a value of another type (an int for a float parameter cannot be told from a float in JS)
            return rng.choice(([] if t == "float" else [rand_int()]) + [rand_float(), rng.choice(STRINGS), True, False])
        if t == "integer":
            return rand_int()
        if t == "float":
            return rand_float()
        if t == "flag":
            return rng.choice([True, False])
        return rng.choice(STRINGS)
    if p.multiple:
        return [atom() for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.05:
        return None
    return atom()


def enc(v):
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, list):
        return [enc(x) for x in v]
    raise TypeError(v)


def json_value(p):
    """A value as an API client would send it (JSON)."""
    t = p.type
    def atom():
        r = rng.random()
        if r < 0.15:
            return rng.choice(CLI_INT if t == "integer" else CLI_FLOAT if t == "float" else STRINGS)
        if t == "integer":
            return rand_int()
        if t == "float":
            v = rand_float()
            return v if math.isfinite(v) else 1.5
        if t == "flag":
            return rng.choice([True, False, 1, 0])
        return rng.choice([s for s in STRINGS] + [rand_int()])
    if p.multiple:
        return [atom() for _ in range(rng.randint(0, 3))]
    return atom()


def cli_args(step):
    argv = []
    for p in step.parameters.values():
        if rng.random() < 0.4:
            continue
        opts = sorted({f"--{sanitize_option_name(p.name)}", f"--{sanitize_option_name(p.name)}".lower()})
        opts = [o for o in opts if " " not in o]
        if not opts:
            continue
        pool = {"integer": CLI_INT, "float": CLI_FLOAT, "flag": CLI_FLAG}.get(p.type, CLI_STR)
        times = rng.choice([1, 1, 1, 2, 3]) if (p.multiple or rng.random() < 0.15) else 1
        for _ in range(times):
            opt = rng.choice(opts)
            v = rng.choice(pool)
            if rng.random() < 0.7 or v == "" or (p.type == "flag" and v.startswith("-")):
                argv.append(f"{opt}={v}")
            else:
                argv += [opt, v]
    if rng.random() < 0.1:
        argv = ["--"] + argv
    return argv


cases = []
def add(**c):
    c["id"] = len(cases)
    cases.append(c)


root = sys.argv[3] if len(sys.argv) > 3 else ""
corpus = sorted(glob.glob(f"{root}/real-world/*.yaml") + glob.glob(f"{root}/reference/examples/*.yaml")
                + glob.glob(f"{root}/reference/valid/*.yaml") + glob.glob(f"{root}/reference/warning/*.yaml")) if root else []
sources = [(f, open(f).read()) for f in corpus] + [(f"synth{i}", synth_yaml()) for i in range(N_SYNTH)]
for src, text in sources:
    try:
        config = parse(text)
    except Exception:
        continue
    for step in config.steps.values():
        reps = 20 if src.startswith("synth") else 30
        add(kind="lib", src=src, yaml=text, step=step.name, values={})
        add(kind="cli", src=src, yaml=text, step=step.name, argv=[])
        for _ in range(reps):
            vals = {p.name: typed_value(p) for p in step.parameters.values() if rng.random() < 0.7}
            add(kind="lib", src=src, yaml=text, step=step.name, values={k: enc(v) for k, v in vals.items()})
            add(kind="cli", src=src, yaml=text, step=step.name, argv=cli_args(step))
            jv = {p.name: json_value(p) for p in step.parameters.values() if rng.random() < 0.8}
            add(kind="api", src=src, yaml=text, step=step.name, valuesJson=json.dumps(jv))
# Format specs and shell quoting on their own: many values per case.
SPECS = ["", ".0f", ".1f", ".2f", ".3f", ".6f", ".10f", ".20f", "f", "e", ".0e", ".3e", ".17e", "g", ".1g", ".2g", ".3g", ".15g",
         ".16g", ".17g", ".2", ".3", ".12", ".17", "%", ".1%", ".0%", "+.3f", " .2e", "08.2f", "<10.3g", "^12", ">12.4e", ",.2f",
         "_.3f", ",", "_", "E", "G", ".4G", "F", "#.0f", "#.0e", "#g", "#.3g", "z.1f", "z.0f", "+g", "010", "=+12.3f", "d", "x",
         "#x", "b", "o", "#o", "X", ",d", "_x", "+d", " d", "08d", "c", "n", "s", ">5s", ".2s", "^7", "*^9", "0<5", "-", "q", "!", "x5", ".2q", "_b", ",o", "#_x", "=^5", "e2", ".f", "z", "10.4%", "+.0e", "#.0%"]
def fmt_value():
    r = rng.random()
    if r < 0.45:
        return rand_float()
    if r < 0.7:
        return rand_int()
    if r < 0.85:
        return rng.choice(STRINGS)
    return rng.choice([True, False])
for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1500):
    items = []
    for _ in range(40):
        if rng.random() < 0.15:
            items.append([None, rng.choice(STRINGS) + rng.choice(["", "x", " ", "'"])])
        else:
            items.append([rng.choice(SPECS), enc(fmt_value())])
    add(kind="fmt", src="fmt", step="-", items=items)
for c in cases:
    sys.stdout.write(json.dumps(c) + "\n")
print(len(cases), file=sys.stderr)
