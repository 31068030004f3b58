"""One validation of settings for the workflow's config and the scripts' --settings.

workflow/schemas/config.schema.yaml (JSON Schema) is the one description of every key: its
type, range, length, default and the keys allowed. The workflow validates the whole config
with it (common.smk), each script validates its --settings against its section, and a
violation is one sentence naming the source, the key, the value and what is allowed, instead of
jsonschema's dump of the schema.
"""

import copy
import json
import re
from pathlib import Path

import jsonschema
import yaml

from genetune.core.errors import InputError

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


def schema():
    if not SCHEMA.exists():
        raise InputError(f"{SCHEMA}: the config schema is missing (genetune's workflow/ folder is not beside src/)")
    return yaml.safe_load(SCHEMA.read_text())


def _fmt(value):
    return json.dumps(value) if isinstance(value, (str, list, dict)) or value is None else repr(value)


def explain(error):
    """One sentence for a jsonschema ValidationError."""
    v, val = error.validator, error.validator_value
    what = _fmt(error.instance)
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)} (allowed: {', '.join(allowed)})"
    if v == "required":
        missing = [k for k in val if k not in error.instance]
        return f"missing required key{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    if v == "type":
        types = val if isinstance(val, list) else [val]
        return f"{what} is not {' or '.join('null' if t == 'null' else f'a {t}' for t in types)}"
    if v == "enum":
        return f"{what} is not one of {', '.join(_fmt(x) for x in val)}"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if v in bounds:
        return f"{what} must be {bounds[v]} {val}"
    if v in ("minItems", "maxItems"):
        return f"{what} needs {'at least' if v == 'minItems' else 'at most'} {val} item{'s' if val != 1 else ''}"
    if v == "multipleOf":
        return f"{what} must be a multiple of {val}"
    if v == "anyOf" and all("required" in option for option in val):
        return "needs " + " or ".join(", ".join(option["required"]) for option in val)
    if v == "pattern":
        return f"{what} does not match {val}"
    return error.message


def _first_error(instance, sub_schema):
    errors = sorted(
        jsonschema.Draft202012Validator(sub_schema).iter_errors(instance),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    return errors[0] if errors else None


def _fill_defaults(instance, sub_schema):
    """Schema defaults for missing keys, recursively into objects that are given; not inside an
    object whose preset replaces defaults (x-defaults-after-preset: its dataclass fills them)."""
    for key, prop in sub_schema.get("properties", {}).items():
        if key not in instance and "default" in prop:
            instance[key] = copy.deepcopy(prop["default"])
        if (
            isinstance(instance.get(key), dict)
            and prop.get("type") == "object"
            and not prop.get("x-defaults-after-preset")
        ):
            _fill_defaults(instance[key], prop)
    return instance


def section_defaults(section):
    """{key: default} of a section of the schema (the defaults of its script's settings dataclass)."""
    return {
        k: copy.deepcopy(p["default"])
        for k, p in schema()["properties"][section]["properties"].items()
        if "default" in p
    }


def is_locus_prefix(text):
    """Whether `text` may be a locus-tag prefix: the schema's naming.prefix pattern (letters, digits
    and _, from a letter: what NCBI allows in a locus_tag and GFF3 in an ID)."""
    return bool(re.match(schema()["properties"]["naming"]["properties"]["prefix"]["pattern"], text or ""))


def validate_config(config, source="config"):
    """Validate a whole workflow config in place and fill the schema's defaults (naming.prefix: the
    species name, which must then be a valid prefix)."""
    s = schema()
    err = _first_error(config, s)
    if err:
        key = ".".join(map(str, err.absolute_path)) or "config"
        raise InputError(f"{source}: {key}: {explain(err)}")
    config = _fill_defaults(config, s)
    if "prefix" not in config["naming"] and "species" in config:
        if not is_locus_prefix(config["species"]):
            raise InputError(
                f"{source}: naming.prefix: the species name '{config['species']}' is no locus-tag "
                f"prefix (letters, digits and _, starting with a letter); set naming: prefix:"
            )
        config["naming"]["prefix"] = config["species"]
    return config


def species_configs(config, source="config"):
    """species -> complete, validated config: the one species of `config`, or every species of the
    species sheet it names (`species_sheet:`, a TSV with the columns species and config: several
    species in one run, each config complete by itself)."""
    if "species_sheet" not in config:
        return {config.get("species", ""): validate_config(config, source)}
    sheet = Path(config["species_sheet"])
    try:
        rows = [line.split("\t") for line in sheet.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"{sheet}: cannot read the species sheet ({exc.strerror})") from None
    if not rows or rows[0][:2] != ["species", "config"]:
        raise InputError(f"{sheet}: needs the tab-separated columns species and config")
    out = {}
    for k, row in enumerate(rows[1:], 2):
        if len(row) < 2:
            raise InputError(f"{sheet} line {k}: needs a species and a config file")
        try:
            cfg = yaml.safe_load(Path(row[1]).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"{sheet} line {k}: cannot read {row[1]} ({exc})") from None
        if not isinstance(cfg, dict) or cfg.get("species") != row[0]:
            raise InputError(f"{row[1]}: its species is not '{row[0]}' ({sheet} line {k})")
        if row[0] in out:
            raise InputError(f"{sheet} line {k}: species '{row[0]}' is listed twice")
        out[row[0]] = validate_config(cfg, row[1])
    return out


def validate_section(section, settings, source="--settings"):
    """A script's settings: the schema's `section` object, validated, without defaults filled (the
    script's dataclass has them)."""
    settings = settings or {}
    sub = schema()["properties"][section]
    err = _first_error(settings, sub)
    if err:
        key = ".".join(map(str, err.absolute_path))
        raise InputError(f"{source}: {section}{'.' + key if key else ''}: {explain(err)}")
    return settings


def _type_text(prop):
    t = prop.get("type", "object" if "properties" in prop else "")
    t = " or ".join(t) if isinstance(t, list) else t
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in prop:
            bounds.append(f"{sign} {prop[key]}")
    if "multipleOf" in prop:
        bounds.append(f"multiple of {prop['multipleOf']}")
    return t + (f" ({', '.join(bounds)})" if bounds else "")


def markdown():
    """config/README.md, made from the schema: every key with its type, range, default and meaning."""
    s = schema()
    lines = [
        "# Configuration",
        "",
        "One YAML file per species (`config/config.yaml` is the embedded demo; `config/species/` holds real",
        "ones). A species config given with `--configfile` is complete by itself: keys it leaves out take",
        "the defaults below, never the demo's values. `workflow/schemas/config.schema.yaml` is the source of",
        "this page (regenerate it with `python -m genetune.core.settings > config/README.md`); the workflow and",
        "every script's `--settings` are validated against it. Only science settings live here; threads,",
        "memory, GPUs and partitions belong to the profiles in `workflow/profiles/`.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]

    def required(key, parent):
        """'required', 'required (or `x`)' where the parent's anyOf offers another way, or ''."""
        if key in parent.get("required", []):
            return "required"
        options = [o.get("required", []) for o in parent.get("anyOf", [])]
        if not any(key in o for o in options):
            return ""
        others = [", ".join(f"`{k}`" for k in o) for o in options if key not in o]
        return "required" + (f" (or {' or '.join(others)})" if others else "")

    def rows(parent, prefix):
        out = []
        for key, prop in parent["properties"].items():
            default = f"`{json.dumps(prop['default'])}`" if "default" in prop else required(key, parent)
            desc = " ".join(str(prop.get("description", "")).split())
            out.append(f"| `{prefix}{key}` | {_type_text(prop)} | {default} | {desc} |")
            if prop.get("properties"):
                out.extend(rows(prop, f"{prefix}{key}."))
            items = prop.get("items", {})
            if isinstance(items, dict) and items.get("properties"):
                out.extend(rows(items, f"{prefix}{key}[]."))
        return out

    lines += rows(s, "")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
