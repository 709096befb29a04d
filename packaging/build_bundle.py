"""Build the MCP Bundle (``dist/shopkeeper-<version>.mcpb``) from Shopkeeper's wheel: ``make bundle`` runs it.

The bundle is a zip with ``manifest.json`` (MCPB manifest 0.3, packaging/mcpb-manifest-v0.3.schema.json),
``server/main.py`` and every dependency installed into ``server/lib`` by pip for this interpreter and
platform, so a desktop host needs only a Python of the same minor version, and no network, to run it.
The manifest records that platform and Python (``compatibility``), and lists the tools the bundled
server itself reports.

    python packaging/build_bundle.py --wheel dist/shopkeeper_mcp-0.2.0-py3-none-any.whl --out dist
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # every entry gets one time: the same inputs make the same bundle

# Run inside the staged server/lib with no site-packages (-S): what the bundled server itself offers.
_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import mcp_server
from mcp_server.handlers.mcp.server import shop_tools
print(json.dumps({"file": mcp_server.__file__, "version": mcp_server.__version__,
    "tools": [{"name": t.name, "description": t.description or ""} for t in shop_tools()]}))
"""


def summary(description: str) -> str:
    """A tool's first paragraph on one line: what a host shows beside the tool's name."""
    return " ".join(description.strip().split("\n\n", 1)[0].split())


def manifest(version: str, tools: list[dict[str, str]]) -> dict[str, Any]:
    """The manifest for a bundle built on this interpreter and platform."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return {
        "manifest_version": "0.3",
        "name": "shopkeeper",
        "display_name": "Shopkeeper",
        "version": version,
        "description": "Run a small shop's back office: customers, catalog, orders, payments, refunds, "
        "reports and an audit trail.",
        "long_description": (
            "Shopkeeper keeps a small shop's customers, products and stock, orders, payments and refunds "
            "(money goes back only when a person approves it), sales reports and an audit trail of every "
            "change, in a SQLite file in the folder you choose. E-mails to customers are written as .eml "
            "files in a mail folder beside it. Card payments go through Stripe when you give a secret key.\n\n"
            f"This bundle carries its dependencies, built for {sysconfig.get_platform()} and CPython {python}."
        ),
        "author": {"name": "The Shopkeeper authors"},
        "license": "MIT",
        "keywords": ["shop", "orders", "inventory", "payments", "stripe", "sqlite"],
        "server": {
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {
                "command": "python" if sys.platform == "win32" else "python3",
                "args": ["${__dirname}/server/main.py"],
                "env": {
                    "PYTHONPATH": "${__dirname}/server/lib",
                    # A new file in a folder that exists: the server creates the shop there on first start.
                    "SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite:///${user_config.database}${/}shopkeeper.db",
                    # Empty when not given, which the server reads as "not set" (card payments off).
                    "SHOPKEEPER_STRIPE_SECRET_KEY": "${user_config.stripe_secret_key}",
                },
            },
        },
        "tools": [{"name": tool["name"], "description": summary(tool["description"])} for tool in tools],
        "compatibility": {
            "platforms": [sys.platform],
            "runtimes": {"python": f">={python},<{sys.version_info.major}.{sys.version_info.minor + 1}"},
        },
        "user_config": {
            "database": {
                "type": "directory",
                "title": "Shop folder",
                "description": "The folder for the shop's database, shopkeeper.db (made there on first start; "
                "the folder itself must exist). Choose the same folder again to keep the same shop.",
                "required": True,
                "default": "${HOME}",
            },
            "stripe_secret_key": {
                "type": "string",
                "title": "Stripe secret key",
                "description": "Optional: a Stripe secret (sk_…) or restricted (rk_…) key to take card payments. "
                "Without it, payments are recorded by hand.",
                "sensitive": True,
                "required": False,
                "default": "",
            },
        },
        "privacy_policies": ["https://stripe.com/privacy"],
        "_meta": {
            "io.github.shopkeeper-mcp/build": {
                "platform": sysconfig.get_platform(),
                "python": f"{sys.implementation.name} {python}",
            }
        },
    }


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kwargs)  # noqa: S603 - our own interpreter and pip


def build(wheel: Path, out_dir: Path, *, license_file: Path | None = None) -> Path:
    """Stage the bundle from ``wheel`` and zip it into ``out_dir``; the bundle's path."""
    with tempfile.TemporaryDirectory(prefix="shopkeeper-bundle-") as temp:
        stage = Path(temp)
        lib = stage / "server" / "lib"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--no-compile"]
        _run([*pip, "--target", str(lib), str(wheel)])
        shutil.rmtree(lib / "bin", ignore_errors=True)  # console scripts pointing at this machine's Python
        shutil.copy(HERE / "bundle_main.py", stage / "server" / "main.py")
        if license_file is not None:
            shutil.copy(license_file, stage / "LICENSE")

        probe = _run([sys.executable, "-S", "-c", _PROBE, str(lib)], capture_output=True, env=_bare_env(), cwd=stage)
        offered = json.loads(probe.stdout)
        if not Path(offered["file"]).resolve().is_relative_to(lib.resolve()):
            raise SystemExit(f"the probe imported Shopkeeper from {offered['file']}, not from the bundle")
        version: str = offered["version"]
        (stage / "manifest.json").write_text(json.dumps(manifest(version, offered["tools"]), indent=2) + "\n")

        out_dir.mkdir(parents=True, exist_ok=True)
        bundle = out_dir / f"shopkeeper-{version}.mcpb"
        partial = bundle.with_suffix(".mcpb.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in stage.rglob("*") if p.is_file()):
                entry = zipfile.ZipInfo(path.relative_to(stage).as_posix(), ZIP_TIME)
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        partial.replace(bundle)
    return bundle


def _bare_env() -> dict[str, str]:
    """This environment without PYTHONPATH, so the probe sees only the staged lib."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="build_bundle", description="Build Shopkeeper's MCP Bundle from its wheel.")
    parser.add_argument("--wheel", type=Path, required=True, help="Shopkeeper's wheel (make dist)")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write shopkeeper-<version>.mcpb to")
    parser.add_argument("--license", type=Path, default=HERE.parent / "LICENSE", help="the LICENSE file to include")
    args = parser.parse_args(argv)
    bundle = build(args.wheel, args.out, license_file=args.license)
    sys.stdout.write(f"{bundle} ({bundle.stat().st_size / 1e6:.1f} MB)\n")


if __name__ == "__main__":
    main()
