"""Build hook: compile the Fava page's message catalogs (``.po`` to ``.mo``) in every build.

Everything else about the package is in setup.cfg and pyproject.toml. The
``.mo`` files are built, never committed: ``build_py`` (which also runs for
``pip install -e .``) compiles each
``fava_extension/fava_ponto/translations/<lang>/LC_MESSAGES/fava_ponto.po``
beside itself before the package data is copied, so wheels ship them and
editable installs load them from the source tree.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

TRANSLATIONS = Path(__file__).parent / "fava_extension" / "fava_ponto" / "translations"


def compile_catalogs() -> list[Path]:
    """Compile each ``.po`` under ``TRANSLATIONS`` to the ``.mo`` beside it; returns those."""
    built = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog)
        built.append(mo)
    return built


class BuildPyWithCatalogs(build_py):
    """``build_py`` that compiles the message catalogs first."""

    def run(self) -> None:
        """Compile the catalogs, then build as usual (package data includes the ``.mo``)."""
        for mo in compile_catalogs():
            print(f"compiled {mo.relative_to(Path(__file__).parent)}")
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})
