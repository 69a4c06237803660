"""``--leak-results /abs/dir`` is an option's value, never a path to test.

pytest finds its rootdir and ini file before a plugin installed from a
package has added its options (pytest-dev/pytest#8846). Until then
``--leak-results`` is unknown and the directory after it is read as a test
path: the rootdir moves there, the project's ini file (its ``addopts``,
``testpaths``, ``leak_*`` keys) is not read, and every test id, so every
results name, changes. pytest's own options are known from the start, which
is why ``--junitxml /abs/dir`` is safe and ours were not.

When one of our options was given with its value as a separate argument and
that changed what pytest found, the setup is found again as pytest would
have found it knowing the option, before the first conftest is loaded, and
what pytest derived from the wrong ini file is derived again from the right
one. ``--leak-results=/abs/dir`` never needed it.
"""

from __future__ import annotations

import copy

import pytest
from _pytest.config.findpaths import determine_setup

from leakbench.pytest_plugin.marks import PYTEST_OPTIONS

VALUE_FLAGS = frozenset(option.pytest_flag for option in PYTEST_OPTIONS if not option.is_switch)


def misread_values(args: list[str]) -> list[str]:
    """Values of our options given as separate arguments: the ones pytest took for test paths at first."""
    return [value for flag, value in zip(args, args[1:], strict=False) if flag in VALUE_FLAGS]


def mend_setup(config: pytest.Config, args: list[str]) -> None:
    """Find the rootdir and ini file again without our options' values; redo what hangs on them."""
    if not misread_values(args):
        return
    ns = config.known_args_namespace  # parsed again once our options were added: the values are no paths here
    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=ns.inifilename,
        override_ini=ns.override_ini,
        args=ns.file_or_dir,
        rootdir_cmd_arg=ns.rootdir or None,
        invocation_dir=config.invocation_params.dir,
    )
    if (rootpath, inipath) == (config.rootpath, config.inipath):
        return
    stale_addopts = list(config.getini("addopts"))
    if args[: len(stale_addopts)] == stale_addopts:
        del args[: len(stale_addopts)]
    config._rootpath, config._inipath, config._inicfg = rootpath, inipath, inicfg
    config._ignored_config_files = ignored
    config._inicache.clear()
    config._parser.extra_info.update(rootdir=str(rootpath), inifile=str(inipath))
    addopts = list(config.getini("addopts"))
    args[:0] = addopts
    config.pluginmanager.consider_preparse(addopts, exclude_only=False)
    config.known_args_namespace = config._parser.parse_known_args(args, namespace=copy.copy(config.option))
    config._checkversion()
    config._configure_python_path()
    config._validate_plugins()
    if config.known_args_namespace.confcutdir is None:
        config.known_args_namespace.confcutdir = str(inipath.parent if inipath else rootpath)
