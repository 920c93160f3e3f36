"""The Ray side of `asc-tool search` (asc/search.py): connecting to Ray, the Tune run with
Optuna's multi-objective sampler and ASHA, and the trial itself, which runs in a Ray worker:
price the candidate, and train and score it on every inner fold only if it fits."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError
from .model import ModelSpec
from .search_budget import COLUMNS, LR_RANGE, SCORE_LEVEL, UNPRICED, candidate_cfg, estimate


def _trial(config: dict, shared=None) -> None:
    """One candidate: price it; if it fits, train and score it on every inner fold."""
    import ray
    from ray import tune

    _one_thread()
    started = time.time()
    cfg = candidate_cfg(shared["cfg"], config)
    from .train import model_spec

    spec = model_spec(cfg, len(shared["classes"]))
    row = {"family": config["family"], "width": int(config["width"]),
           "depth": None if config["family"] == "seed_cnn" else int(config["depth"]),
           "learning_rate": cfg["learning_rate"], "node_id": ray.get_runtime_context().get_node_id()}
    row |= estimate(spec, shared["budget"], cfg["seed"])
    for key in ("ram_bytes", "instructions"):
        row.setdefault(key, UNPRICED)
    if not row["feasible"]:
        tune.report(row | {"status": "infeasible", "uar": 0.0, "val_uar": 0.0, "epochs_trained": 0,
                           "seconds": time.time() - started})
        return
    uars, windows, epochs = [], [], [0]

    def report(status: str, val_uar: float, uar: float):
        tune.report(row | {"status": status, "uar": uar, "val_uar": val_uar, "epochs_trained": epochs[0],
                           "inner_clip_uar": float(np.mean(uars)) if uars else None,
                           "inner_clip_uar_sd": float(np.std(uars, ddof=1)) if len(uars) > 1 else None,
                           "inner_window_uar": float(np.mean(windows)) if windows else None,
                           "seconds": time.time() - started})

    best_val = [0.0]
    for k, name in enumerate(shared["inner_names"]):
        def epoch_end(logs, first=(k == 0)):
            epochs[0] += 1
            if first:
                best_val[0] = max(best_val[0], float(logs["val_uar"]))
                report("training", float(logs["val_uar"]), float(logs["val_uar"]))

        result = _fit_fold(shared, cfg, spec, name, epoch_end)
        uars.append(result[SCORE_LEVEL]["uar"])
        windows.append(result["window"]["uar"])
    report("complete", best_val[0], float(np.mean(uars)))


def _one_thread() -> None:
    """One CPU per trial: TensorFlow's thread pools sized to it (before TensorFlow starts)."""
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except (RuntimeError, ImportError):
        pass


def _fit_fold(shared: dict, cfg: dict, spec: ModelSpec, name: str, epoch_end) -> dict:
    """Train on the outer-training recordings outside inner fold ``name`` (validation groups
    drawn from them), test on fold ``name``; the test report."""
    import keras

    from ..data.split import split_by_group
    from .pipeline import fit_scaler, predict_scores
    from .train import _report, fit_model, thinned

    index, inner_items, positions = shared["index"], shared["inner_items"], shared["positions"]
    splits = split_by_group(inner_items, cfg["seed"], cfg["test_fraction"], cfg["val_fraction"], name,
                            classes=shared["classes"], where="the outer-training recordings")
    sets = {}
    for split in ("train", "val", "test"):
        chosen = np.zeros(shared["n_items"], bool)
        chosen[positions[np.array([s == split for s in splits])]] = True
        sets[split] = index.subset(chosen)
    sets = thinned(sets, cfg)
    scaler = fit_scaler(sets["train"])

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epoch_end(logs or {})

    model, _ = fit_model(spec, sets["train"], sets["val"], scaler, cfg, lambda msg: None, [Report()])
    return _report(sets["test"], predict_scores(model, sets["test"], scaler), shared["classes"])


def connect(address: str | None, workers: int) -> dict:
    """Start local Ray (``workers`` CPUs) or join ``address``; ConfigError when unreachable."""
    import logging

    import ray

    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if ray.is_initialized():
        ray.shutdown()
    try:
        _reachable(address)
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except (OSError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--address {address}: cannot reach a Ray cluster ({first[:160]})",
                          "start one (`ray start --head`) or leave --address out for local Ray") from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = int(ray.cluster_resources().get("CPU", 0))
    return {"address": address or "local", "nodes": len(nodes), "cpus": cpus}


def _reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """OSError at once when ``address`` names a host:port nobody listens on (Ray itself retries
    for minutes); 'auto' and no address are left to Ray."""
    import socket

    if not address or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected ray://host:port, host:port or auto, got {address!r}")
    with socket.create_connection((host, int(port)), timeout=timeout_s):
        pass


def run_tune(shared: dict, space: dict, workers: int, address, cluster: dict, seed: int, epochs: int, log) -> list:
    """The trials (``space``: families, widths, depths, trials, time_budget, random_trials) on the
    connected Ray; one row per trial in the order they started."""
    import optuna
    from optuna.samplers import TPESampler
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = space["trials"]
    startup = space["random_trials"] if space["random_trials"] is not None else max(2, min(10, trials // 2))
    storage = Path(tempfile.mkdtemp(prefix="asc-search-tune-"))
    try:
        log(f"Ray: {cluster['nodes']} node(s), {cluster['cpus']} CPUs; {trials} trials"
            + (f", time budget {space['time_budget']:g} s" if space["time_budget"] else ""))
        param_space = {"family": tune.choice(list(space["families"])), "width": tune.choice(list(space["widths"])),
                       "depth": tune.choice(list(space["depths"])), "learning_rate": tune.loguniform(*LR_RANGE)}
        sampler = TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
        searcher = OptunaSearch(space=None, metric=["uar", "instructions", "ram_bytes"], mode=["max", "min", "min"],
                                sampler=sampler, seed=seed)
        concurrency = workers if not address else max(1, cluster["cpus"])
        # One rung, half-way through the first inner fold: the worse half of the trials that get
        # there stop (more rungs left too few trials to finish every inner fold).
        scheduler = ASHAScheduler(metric="val_uar", mode="max", max_t=epochs + 1,
                                  grace_period=max(1, (epochs + 2) // 2), reduction_factor=2)
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_trial, shared=shared), {"cpu": 1}),
            param_space=param_space,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=trials,
                                        max_concurrent_trials=concurrency, time_budget_s=space["time_budget"]),
            run_config=tune.RunConfig(name="search", storage_path=str(storage), verbose=0,
                                      log_to_file=False, callbacks=[_Progress(log)]),
        )
        results = tuner.fit()
        rows = [_row(n, r) for n, r in enumerate(sorted(results, key=lambda r: _trial_order(r)), 1)]
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return rows


def _trial_order(result) -> str:
    return str(getattr(result, "path", "") or "")


def _row(n: int, result) -> dict:
    m = dict(result.metrics or {})
    cfg = result.config or {}
    status = m.get("status", "error")
    if status == "training":
        status = "stopped"             # ASHA or the time budget ended it before every inner fold
    if result.error is not None:
        status = "error"
    row = {"trial": n, "status": status, "family": cfg.get("family"), "width": cfg.get("width"),
           "depth": None if cfg.get("family") == "seed_cnn" else cfg.get("depth"),
           "learning_rate": cfg.get("learning_rate"), "feasible": bool(m.get("feasible", False)),
           "reason": m.get("reason", "") if status != "error" else f"trial failed: {str(result.error)[:200]}"}
    for key in COLUMNS[8:]:
        row.setdefault(key, m.get(key))
    if status == "stopped":
        row["inner_clip_uar"] = None
    return row


def _progress_class():
    from ray.tune import Callback

    class Progress(Callback):
        def __init__(self, log):
            self.log = log

        def on_trial_complete(self, iteration, trials, trial, **info):
            m = trial.last_result or {}
            status = "stopped early" if m.get("status") == "training" else m.get("status", "?")
            what = (f": inner clip UAR {m['inner_clip_uar']:.1%}" if status == "complete"
                    else f" ({m['reason']})" if m.get("reason") else "")
            self.log(f"trial {trial.trial_id}: {trial.config.get('family')} width {trial.config.get('width')} "
                     f"depth {trial.config.get('depth')}: {status}{what}")

    return Progress


def _Progress(log):
    return _progress_class()(log)

