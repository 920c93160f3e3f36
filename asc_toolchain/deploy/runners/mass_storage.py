"""``mass-storage``: copy the raw image onto the ST-LINK's USB drive, which flashes what it gets.

The drive is found by its volume name (the board file's ``runners.mass-storage.volume``, or
``--volume``) among the mounted file systems, or given with ``--drive``. After the copy the ST-LINK programs the chip and re-mounts the drive
without the file; a FAIL.TXT on the drive then holds the reason of a failure.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path

from ...core.errors import ConfigError, ToolFailedError
from .core import Capabilities, Runner

DEFAULT_TIMEOUT_S = 30.0
POLL_S = 0.2


def mount_points(mounts_text: str | None = None) -> list[tuple[str, Path]]:
    """(device, mount point) of every mounted file system (Linux /proc/mounts; else /Volumes)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            volumes = Path("/Volumes")
            return [("", p) for p in volumes.iterdir()] if volumes.is_dir() else []
    points = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            points.append((fields[0], Path(fields[1].replace("\\040", " "))))
    return points


def find_drives(volume: str, mounts_text: str | None = None,
                label_dir: Path = Path("/dev/disk/by-label")) -> list[Path]:
    """Mount points whose folder name or file-system label is ``volume``."""
    labelled = label_dir / volume
    device = os.path.realpath(labelled) if labelled.exists() else None
    found = []
    for dev, point in mount_points(mounts_text):
        by_label = device is not None and os.path.realpath(dev) == device
        if point.name == volume or by_label:
            found.append(point)
    return sorted(set(found))


class MassStorageRunner(Runner):
    NAME = "mass-storage"
    CAPS = Capabilities(commands=frozenset({"flash"}), options=frozenset({"volume", "drive", "timeout"}),
                        image="bin")

    def drive(self) -> Path:
        """The ST-LINK drive's mount point; ConfigError when none or several are found."""
        if self.options["drive"]:
            path = Path(self.options["drive"])
            if not path.is_dir() and not self.config.dry_run:
                raise ConfigError(f"{path}: drive not found (--drive)", "plug the board in and check the mount point")
            return path
        volume = self.options["volume"]
        if not volume:
            raise ConfigError(f"the board file {self.config.board.path} names no ST-LINK drive volume",
                              "give --volume NAME or --drive PATH, or add runners.mass-storage.volume to the board file")
        drives = find_drives(volume)
        if len(drives) == 1:
            self.config.echo(f"ST-LINK drive {volume} mounted at {drives[0]}")
            return drives[0]
        if not drives and self.config.dry_run:
            guess = Path("/media") / getpass.getuser() / volume
            self.config.echo(f"note: no drive named {volume} is mounted now; assuming {guess}")
            return guess
        if not drives:
            raise ConfigError(f"no drive named {volume} is mounted",
                              "plug the board's ST-LINK USB port in and mount the drive, or give --drive PATH")
        raise ConfigError(f"{len(drives)} drives named {volume}: {', '.join(map(str, drives))}",
                          "pick one with --drive PATH")

    def do_flash(self) -> None:
        drive = self.drive()
        image = self.bin()
        target = drive / image.name
        self.config.executor.copy(image, target)
        if self.config.dry_run:
            return
        self.wait_taken(drive, target)
        fail = drive / "FAIL.TXT"
        if fail.is_file():
            text = " ".join(fail.read_text(encoding="utf-8", errors="replace").split())
            raise ToolFailedError(f"the ST-LINK drive {drive} did not flash {image.name}: FAIL.TXT says {text!r}",
                                  "check the image is for this board; unplug and re-plug the board, then retry")
        self.config.echo(f"the ST-LINK drive took {image.name} ({image.stat().st_size:,} B)")

    def wait_taken(self, drive: Path, target: Path) -> None:
        """Wait until the copied file is gone (programmed) and the drive is back."""
        timeout = self.options["timeout"] or DEFAULT_TIMEOUT_S
        deadline = time.monotonic() + timeout
        while _exists(target):
            if time.monotonic() > deadline:
                raise ToolFailedError(f"the drive {drive} still holds {target.name} after {timeout:g} s",
                                      "is it the ST-LINK drive? update the ST-LINK firmware or use --runner stlink")
            time.sleep(POLL_S)
        while not drive.is_dir():
            if time.monotonic() > deadline:
                raise ToolFailedError(f"the drive {drive} did not come back within {timeout:g} s after flashing",
                                      "mount it again and look for FAIL.TXT")
            time.sleep(POLL_S)
        time.sleep(POLL_S if sys.platform.startswith("linux") else 1.0)   # let FAIL.TXT appear


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:            # the drive is being re-mounted
        return False
