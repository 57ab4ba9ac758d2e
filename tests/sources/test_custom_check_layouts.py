"""The custom source's static check (``plan``/``validate``) on unusual module layouts:
packages, namespace packages, modules on the Python path, compiled or unreadable
modules, syntax errors, and names that reading a module cannot see. Every module is
a real file under tmp_path; the check reads them and never imports them."""

from __future__ import annotations

import json
import py_compile
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic
from foundry_dsl.frontends.load import load
from foundry_dsl.resources import stdlib_dir
from foundry_dsl.sources.custom import import_user_module, search_roots
from foundry_dsl.sources.custom_check import check

EXTRACTOR = """\
from foundry_dsl.sources.base import Extractor


class OrdersExtractor(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": 1}]
"""

PIPELINE = """\
platform lake {
  storage local {
    path = "out"
  }
}

pipeline shop.orders {
  platform = lake
  source custom {
    module = "MODULE"
    class_name = "CLASS"
  }
}
"""


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pipeline file's folder, ``pipelines/``, with the current directory its parent."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "pipelines"
    folder.mkdir()
    return folder


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on the Python path (``site/``, shown relative to the current directory)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture(autouse=True)
def _forget_imported_test_modules() -> Iterator[None]:
    yield
    for name in [n for n in sys.modules if n.split(".")[0].startswith("t_ccl_")]:
        del sys.modules[name]


def _write(folder: Path, relative: str, code: str | bytes = EXTRACTOR) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(code, bytes):
        path.write_bytes(code)
    else:
        path.write_text(code)
    return path


def _check(module: str, class_name: str, base: Path, work: Path | None = None) -> list[Diagnostic]:
    source = ir.CustomSource(module=module, class_name=class_name)
    return check(source, search_roots(base, work))


def _missing_class(module: str, shown: str, class_name: str, hint: str) -> list[Diagnostic]:
    return [Diagnostic(
        f"module '{module}' ({shown}) defines no class '{class_name}'", None, hint, code="E061"
    )]


# --- names the check does not follow ------------------------------------------------------


def test_the_compat_extractors_package_is_left_to_the_run(base: Path) -> None:
    assert _check("extractors.base", "NoSuchExtractor", base) == []


def test_a_module_name_that_is_not_dotted_identifiers_is_left_to_the_run(base: Path) -> None:
    assert _check("my-extractor", "OrdersExtractor", base) == []


# --- modules already imported ---------------------------------------------------------------


def test_an_imported_module_is_checked_against_the_names_it_holds(base: Path) -> None:
    assert _check("json", "JSONDecoder", base) == []


def test_a_class_missing_from_an_imported_module_names_its_file_and_the_closest_class(
    base: Path,
) -> None:
    assert _check("json", "JSONDecodr", base) == _missing_class(
        "json", str(json.__file__), "JSONDecodr", "did you mean 'JSONDecoder'?"
    )


def test_an_imported_module_without_a_file_is_named_without_one(base: Path) -> None:
    assert _check("sys", "SysExtractor", base) == [Diagnostic(
        "module 'sys' defines no class 'SysExtractor'", None, "define the class in it", code="E061"
    )]


# --- modules beside the pipeline -----------------------------------------------------------


def test_a_class_defined_in_a_module_beside_the_pipeline_passes(base: Path) -> None:
    _write(base, "orders.py")
    assert _check("orders", "OrdersExtractor", base) == []


def test_a_missing_class_is_reported_with_the_closest_name(base: Path) -> None:
    _write(base, "orders.py")
    assert _check("orders", "OrderExtractor", base) == _missing_class(
        "orders", "pipelines/orders.py", "OrderExtractor", "did you mean 'OrdersExtractor'?"
    )


def test_without_a_close_name_the_help_lists_the_capitalised_names_the_module_binds(
    base: Path,
) -> None:
    _write(base, "orders.py", "class Beta:\n    pass\n\nclass Alpha:\n    pass\n\ndef helper():\n    pass\n")
    assert _check("orders", "Shipments", base) == _missing_class(
        "orders", "pipelines/orders.py", "Shipments", "it defines: Alpha, Beta"
    )


def test_a_module_without_capitalised_names_is_told_to_define_the_class(base: Path) -> None:
    _write(base, "orders.py", "def helper():\n    pass\n")
    assert _check("orders", "OrdersExtractor", base) == _missing_class(
        "orders", "pipelines/orders.py", "OrdersExtractor", "define the class in it"
    )


def test_a_class_in_a_package_init_beside_the_pipeline_passes(base: Path) -> None:
    _write(base, "shop/__init__.py")
    assert _check("shop", "OrdersExtractor", base) == []


def test_a_class_missing_from_a_package_names_its_init_file(base: Path) -> None:
    _write(base, "shop/__init__.py", "")
    assert _check("shop", "OrdersExtractor", base) == _missing_class(
        "shop", "pipelines/shop/__init__.py", "OrdersExtractor", "define the class in it"
    )


def test_a_submodule_of_a_package_beside_the_pipeline_is_read(base: Path) -> None:
    _write(base, "shop/__init__.py", "")
    _write(base, "shop/orders.py")
    assert _check("shop.orders", "OrderExtractor", base) == _missing_class(
        "shop.orders", "pipelines/shop/orders.py", "OrderExtractor", "did you mean 'OrdersExtractor'?"
    )


def test_a_folder_without_init_is_a_namespace_package_and_leaves_the_class_unchecked(
    base: Path,
) -> None:
    _write(base, "shop/orders.py")
    assert _check("shop", "AnyExtractor", base) == []


def test_a_submodule_of_a_namespace_package_beside_the_pipeline_is_read(base: Path) -> None:
    _write(base, "shop/sales/orders.py")
    assert _check("shop.sales.orders", "OrdersExtractor", base) == []


def test_a_namespace_subpackage_leaves_the_class_unchecked(base: Path) -> None:
    _write(base, "shop/__init__.py", "")
    _write(base, "shop/sales/orders.py")
    assert _check("shop.sales", "AnyExtractor", base) == []


def test_a_missing_submodule_suggests_the_closest_module_of_the_package(base: Path) -> None:
    _write(base, "shop/orders.py")
    assert _check("shop.order", "OrdersExtractor", base) == [Diagnostic(
        "cannot find module 'shop.order' for the custom source: "
        "pipelines/shop has no order.py and no order/ package",
        None,
        "did you mean 'orders'?",
        code="E060",
    )]


def test_a_missing_submodule_without_a_close_name_is_told_where_to_create_it(base: Path) -> None:
    _write(base, "shop/orders.py")
    assert _check("shop.refunds", "RefundsExtractor", base) == [Diagnostic(
        "cannot find module 'shop.refunds' for the custom source: "
        "pipelines/shop has no refunds.py and no refunds/ package",
        None,
        "create pipelines/shop/refunds.py, or correct the module name",
        code="E060",
    )]


def test_the_pipeline_folder_is_read_before_the_plan_directory(base: Path, tmp_path: Path) -> None:
    _write(base, "orders.py", "class Beta:\n    pass\n")
    _write(tmp_path, "orders.py")
    assert _check("orders", "OrdersExtractor", base, tmp_path) == _missing_class(
        "orders", "pipelines/orders.py", "OrdersExtractor", "it defines: Beta"
    )


def test_a_module_only_in_the_plan_directory_is_read_there(base: Path, tmp_path: Path) -> None:
    _write(tmp_path, "orders.py")
    assert _check("orders", "OrderExtractor", base, tmp_path) == _missing_class(
        "orders", "orders.py", "OrderExtractor", "did you mean 'OrdersExtractor'?"
    )


def test_a_module_of_foundry_s_stdlib_is_read_after_the_pipeline_folders(base: Path) -> None:
    assert _check("synthetic", "SyntheticRow", base) == _missing_class(
        "synthetic", str(stdlib_dir() / "synthetic.py"), "SyntheticRow",
        "did you mean 'SyntheticRows'?",
    )


# --- modules found nowhere -----------------------------------------------------------------


def test_a_module_found_nowhere_names_the_folders_looked_in_and_the_closest_module(
    base: Path, tmp_path: Path
) -> None:
    _write(base, "orders.py")
    assert _check("order", "OrdersExtractor", base, tmp_path) == [Diagnostic(
        "cannot find module 'order' for the custom source "
        "(looked in pipelines, ., foundry's stdlib/ and the Python path)",
        None,
        "did you mean 'orders'?",
        code="E060",
    )]


def test_a_dotted_module_found_nowhere_is_told_to_be_put_beside_the_pipeline(base: Path) -> None:
    assert _check("t_ccl_reports.daily", "DailyExtractor", base) == [Diagnostic(
        "cannot find module 't_ccl_reports.daily' for the custom source "
        "(looked in pipelines, foundry's stdlib/ and the Python path)",
        None,
        "put t_ccl_reports.py or the package t_ccl_reports/ beside the pipeline file, or install it",
        code="E060",
    )]


def test_a_search_folder_that_does_not_exist_offers_no_suggestion(tmp_path: Path) -> None:
    source = ir.CustomSource(module="t_ccl_orders", class_name="OrdersExtractor")
    assert check(source, [tmp_path / "gone", stdlib_dir()]) == [Diagnostic(
        "cannot find module 't_ccl_orders' for the custom source "
        f"(looked in {tmp_path / 'gone'}, foundry's stdlib/ and the Python path)",
        None,
        "put t_ccl_orders.py or the package t_ccl_orders/ beside the pipeline file, or install it",
        code="E060",
    )]


# --- modules on the Python path ------------------------------------------------------------


def test_a_module_on_the_python_path_is_read(base: Path, site: Path) -> None:
    _write(site, "t_ccl_orders.py")
    assert _check("t_ccl_orders", "OrderExtractor", base) == _missing_class(
        "t_ccl_orders", "site/t_ccl_orders.py", "OrderExtractor", "did you mean 'OrdersExtractor'?"
    )


def test_a_module_on_the_python_path_is_never_imported(
    base: Path, site: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    _write(site, "t_ccl_orders.py", f"open({str(marker)!r}, 'w').close()\n" + EXTRACTOR)
    _check("t_ccl_orders", "OrdersExtractor", base)
    assert (marker.exists(), "t_ccl_orders" in sys.modules) == (False, False)


def test_a_submodule_of_a_package_on_the_python_path_is_read(base: Path, site: Path) -> None:
    _write(site, "t_ccl_shop/__init__.py", "")
    _write(site, "t_ccl_shop/orders.py")
    assert _check("t_ccl_shop.orders", "OrderExtractor", base) == _missing_class(
        "t_ccl_shop.orders", "site/t_ccl_shop/orders.py", "OrderExtractor",
        "did you mean 'OrdersExtractor'?",
    )


def test_a_namespace_package_on_the_python_path_leaves_the_class_unchecked(
    base: Path, site: Path
) -> None:
    _write(site, "t_ccl_shop/orders.py")
    assert _check("t_ccl_shop", "AnyExtractor", base) == []


def test_a_submodule_missing_from_a_package_on_the_python_path_is_not_found(
    base: Path, site: Path
) -> None:
    _write(site, "t_ccl_shop/__init__.py", "")
    assert _check("t_ccl_shop.refunds", "RefundsExtractor", base) == [Diagnostic(
        "cannot find module 't_ccl_shop.refunds' for the custom source "
        "(looked in pipelines, foundry's stdlib/ and the Python path)",
        None,
        "put t_ccl_shop.py or the package t_ccl_shop/ beside the pipeline file, or install it",
        code="E060",
    )]


def test_a_submodule_of_a_plain_module_on_the_python_path_is_not_found(
    base: Path, site: Path
) -> None:
    _write(site, "t_ccl_orders.py")
    assert _check("t_ccl_orders.daily", "DailyExtractor", base) == [Diagnostic(
        "cannot find module 't_ccl_orders.daily' for the custom source "
        "(looked in pipelines, foundry's stdlib/ and the Python path)",
        None,
        "put t_ccl_orders.py or the package t_ccl_orders/ beside the pipeline file, or install it",
        code="E060",
    )]


def test_a_module_compiled_without_its_source_is_left_to_the_run(
    base: Path, site: Path, tmp_path: Path
) -> None:
    source = _write(tmp_path, "src/t_ccl_compiled.py")
    py_compile.compile(str(source), cfile=str(site / "t_ccl_compiled.pyc"), doraise=True)
    assert _check("t_ccl_compiled", "MissingExtractor", base) == []


def test_a_submodule_of_a_built_in_module_is_left_to_the_run(base: Path) -> None:
    assert _check("sys.extractors", "SysExtractor", base) == []


def test_a_submodule_of_a_module_registered_without_a_spec_is_not_found(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "t_ccl_made", types.ModuleType("t_ccl_made"))
    assert _check("t_ccl_made.orders", "OrdersExtractor", base) == [Diagnostic(
        "cannot find module 't_ccl_made.orders' for the custom source "
        "(looked in pipelines, foundry's stdlib/ and the Python path)",
        None,
        "put t_ccl_made.py or the package t_ccl_made/ beside the pipeline file, or install it",
        code="E060",
    )]


# --- modules that cannot be read ---------------------------------------------------------


def test_a_module_that_is_not_valid_python_is_an_error_naming_the_file_and_line(
    base: Path,
) -> None:
    _write(base, "orders.py", "import json\n\nclass OrdersExtractor(:\n    pass\n")
    assert _check("orders", "OrdersExtractor", base) == [Diagnostic(
        "the custom source's module 'orders' is not valid Python: invalid syntax "
        "(pipelines/orders.py, line 3)",
        None,
        "fix the module; a run would fail as it imports it",
        code="E062",
    )]


def test_a_package_init_that_is_not_valid_python_names_the_init_file(base: Path) -> None:
    _write(base, "shop/__init__.py", "x = (\n")
    assert _check("shop", "OrdersExtractor", base) == [Diagnostic(
        "the custom source's module 'shop' is not valid Python: '(' was never closed "
        "(pipelines/shop/__init__.py, line 1)",
        None,
        "fix the module; a run would fail as it imports it",
        code="E062",
    )]


def test_a_module_that_is_not_utf8_text_leaves_the_class_unchecked(base: Path) -> None:
    _write(base, "orders.py", b"# \xff\xfe latin-1 bytes\nclass Other:\n    pass\n")
    assert _check("orders", "OrdersExtractor", base) == []


# --- names a module binds ----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "if False:\n    pass\nelse:\n    class OrdersExtractor:\n        pass\n",
        "try:\n    import t_ccl_fast\nexcept ImportError:\n    class OrdersExtractor:\n        pass\n",
        "try:\n    pass\nfinally:\n    class OrdersExtractor:\n        pass\n",
        "with open(__file__):\n    class OrdersExtractor:\n        pass\n",
        "for _ in range(1):\n    class OrdersExtractor:\n        pass\n",
        "while True:\n    class OrdersExtractor:\n        pass\n    break\n",
    ],
    ids=["if-else", "try-except", "try-finally", "with", "for", "while"],
)
def test_a_class_defined_inside_a_compound_statement_is_seen(base: Path, code: str) -> None:
    _write(base, "orders.py", code)
    assert _check("orders", "OrdersExtractor", base) == []


def test_a_class_bound_by_assignment_is_seen(base: Path) -> None:
    _write(base, "orders.py", "class _Impl:\n    pass\n\nOrdersExtractor = _Impl\n")
    assert _check("orders", "OrdersExtractor", base) == []


def test_a_class_imported_under_an_alias_is_seen(base: Path) -> None:
    _write(base, "orders.py", "from foundry_dsl.sources.base import Extractor as OrdersExtractor\n")
    assert _check("orders", "OrdersExtractor", base) == []


def test_a_dotted_import_binds_only_its_first_name(base: Path) -> None:
    _write(base, "orders.py", "import xml.dom.minidom\n")
    assert _check("orders", "Minidom", base) == _missing_class(
        "orders", "pipelines/orders.py", "Minidom", "define the class in it"
    )


def test_a_class_nested_in_another_class_is_not_a_top_level_name(base: Path) -> None:
    _write(base, "orders.py", "class Outer:\n    class OrdersExtractor:\n        pass\n")
    assert _check("orders", "OrdersExtractor", base) == _missing_class(
        "orders", "pipelines/orders.py", "OrdersExtractor", "it defines: Outer"
    )


def test_a_module_level_getattr_leaves_the_class_unchecked(base: Path) -> None:
    _write(base, "orders.py", "def __getattr__(name):\n    return object\n")
    assert _check("orders", "OrdersExtractor", base) == []


def test_a_star_import_leaves_the_class_unchecked(base: Path) -> None:
    _write(base, "orders.py", "from foundry_dsl.sources.base import *\n")
    assert _check("orders", "OrdersExtractor", base) == []


@pytest.mark.parametrize(
    "code",
    [
        "globals()['OrdersExtractor'] = type('OrdersExtractor', (), {})\n",
        "import sys\nsetattr(sys.modules[__name__], 'OrdersExtractor', object)\n",
        "exec('class OrdersExtractor: pass')\n",
        "vars()['OrdersExtractor'] = object\n",
    ],
    ids=["globals", "setattr", "exec", "vars"],
)
def test_a_module_that_binds_names_dynamically_leaves_the_class_unchecked(
    base: Path, code: str
) -> None:
    _write(base, "orders.py", code)
    assert _check("orders", "OrdersExtractor", base) == []


# --- where diagnostics point, and how paths are shown ----------------------------------------


def _loaded_source(base: Path, module: str, class_name: str) -> ir.CustomSource:
    path = base / "pipeline.bronze"
    path.write_text(PIPELINE.replace("MODULE", module).replace("CLASS", class_name))
    source = load([str(path)]).pipelines[0].source
    assert isinstance(source, ir.CustomSource)
    return source


def test_a_missing_module_is_reported_at_the_module_setting(base: Path) -> None:
    source = _loaded_source(base, "t_ccl_orders", "OrdersExtractor")
    (found,) = check(source, search_roots(base))
    assert (found.code, found.position and (found.position.line, found.position.col)) == (
        "E060", (10, 14),
    )


def test_a_missing_class_is_reported_at_the_class_name_setting(base: Path) -> None:
    _write(base, "orders.py")
    source = _loaded_source(base, "orders", "OrderExtractor")
    (found,) = check(source, search_roots(base))
    assert (found.code, found.position and (found.position.line, found.position.col)) == (
        "E061", (11, 18),
    )


def test_paths_are_shown_absolute_when_the_current_directory_is_gone(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(base, "orders.py")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert _check("orders", "OrderExtractor", base) == _missing_class(
        "orders", str(base / "orders.py"), "OrderExtractor", "did you mean 'OrdersExtractor'?"
    )


# --- bugs ----------------------------------------------------------------------------------


def test_a_same_named_module_imported_from_another_folder_does_not_decide_the_check(
    base: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    _write(other, "t_ccl_orders.py")
    import_user_module("t_ccl_orders", other)
    _write(base, "t_ccl_orders.py", "class ShipmentsExtractor:\n    pass\n")
    assert _check("t_ccl_orders", "ShipmentsExtractor", base) == []


def test_a_plain_module_used_as_a_package_is_not_said_to_be_missing(base: Path) -> None:
    _write(base, "orders.py")
    (found,) = _check("orders.daily", "DailyExtractor", base)
    assert "has no orders.py" not in found.message


def test_a_class_bound_only_inside_a_function_is_reported_missing(base: Path) -> None:
    _write(base, "orders.py", "def make():\n    OrdersExtractor = object\n    return OrdersExtractor\n")
    assert _check("orders", "OrdersExtractor", base) == _missing_class(
        "orders", "pipelines/orders.py", "OrdersExtractor", "define the class in it"
    )
