"""experiments/ as the Hydra config group `experiment`.

Wherever conf/ is on Hydra's search path (the harness's entry points, the tests' compose),
ExperimentsSearchPath adds `harness-experiments://` after it, and this source serves the
studies' folder (harness.config.locations.experiments_dir) under the group name users type,
`experiment=NAME` and `experiment=full/NAME`, without a link from conf/ to experiments/.
Other Hydra applications' search paths are left alone.
"""

from __future__ import annotations

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

GROUP = "experiment"
SCHEME = "harness-experiments"


class ExperimentsSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from harness.config.locations import conf_dir

        conf = os.path.realpath(conf_dir())
        paths = [element.path for element in search_path.get_path()]
        ours = any(os.path.realpath(path.removeprefix("file://")) == conf for path in paths)
        if ours and f"{SCHEME}://" not in paths:
            search_path.append("harness", f"{SCHEME}://")


class ExperimentsConfigSource(ConfigSource):
    @staticmethod
    def scheme() -> str:
        return SCHEME

    def _real(self, config_path: str) -> str | None:
        """The file or folder behind a config path inside the group, None outside it."""
        from harness.config.locations import experiments_dir

        head, _, rest = config_path.strip("/").partition("/")
        return os.path.join(experiments_dir(), rest) if head == GROUP else None

    def load_config(self, config_path: str) -> ConfigResult:
        real = self._real(self._normalize_file_name(config_path))
        if real is None or not os.path.isfile(real):
            raise ConfigLoadError(f"Config not found : {config_path}")
        with open(real, encoding="utf-8") as f:
            header = ConfigSource._get_header_dict(f.read(512))
            f.seek(0)
            return ConfigResult(config=OmegaConf.load(f), path=self.full_path(), provider=self.provider, header=header)

    def available(self) -> bool:
        return self.is_group("")

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return True
        real = self._real(config_path)
        return real is not None and os.path.isdir(real)

    def is_config(self, config_path: str) -> bool:
        real = self._real(self._normalize_file_name(config_path))
        return real is not None and os.path.isfile(real)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") == "":
            return [GROUP] if results_filter in (None, ObjectType.GROUP) else []
        files: list[str] = []
        real = self._real(config_path)
        for name in os.listdir(real) if real and os.path.isdir(real) else []:
            self._list_add_result(
                files=files, file_path=os.path.join(config_path, name), file_name=name, results_filter=results_filter
            )
        return sorted(set(files))
