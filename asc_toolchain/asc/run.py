"""An stm32-asc run directory read back: the shared Run plus what only this target's runs hold
(feature parameters in the manifest, the scaler). The stm32-asc stages open runs here; a run of
another target is refused with one line, and a damaged one names the file and how to recover."""

from __future__ import annotations

import io
import zipfile

from ..core.runs import Run
from .features import FeatureParams, Scaler

TARGET = "stm32-asc"


class AscRun(Run):
    TARGET = TARGET
    TARGET_HINT = "train one with `asc-tool train` (the default target), or use the jetson-ser commands"
    READS = Run.READS + ("scaler.npz",)

    def validate(self) -> None:
        """Run's checks, then (for runs written with a file table) the feature parameters and a
        scaler that matches them."""
        super().validate()
        if "scaler.npz" in self.recorded:
            params, scaler = self.feature_params, self.scaler()
            if scaler.mean.shape != (params.n_mels, params.n_columns) or scaler.scale.shape != scaler.mean.shape:
                raise self.damaged("scaler.npz", f"holds {scaler.mean.shape} values, the features are "
                                                 f"{params.n_mels}×{params.n_columns}")

    @property
    def feature_params(self) -> FeatureParams:
        try:
            params = FeatureParams.from_dict(self.manifest.get("features"))
        except TypeError:
            params = None
        if params is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                     for v in params.to_dict().values()):
            raise self.damaged("manifest.json", "its 'features' are not positive feature parameters")
        return params

    def scaler(self) -> Scaler:
        try:
            return Scaler.load(io.BytesIO(self.read_bytes("scaler.npz")))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise self.damaged("scaler.npz", f"not the scaler's mean and scale ({type(exc).__name__})") from None


def open_asc_run(path) -> AscRun:
    """The validated run at ``path``; RunError unless it was trained for stm32-asc."""
    return AscRun.open(path)
