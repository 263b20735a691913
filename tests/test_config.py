"""Run profiles: one place, nested by concern, overrides converted strictly and checked."""

import dataclasses

import pytest

from wordot import config
from wordot.embed import EmbedConfig
from wordot.loss import LossConfig


def test_every_profile_resolves_and_is_labelled():
    assert set(config.PROFILES) == {"smoke", "cpu", "paper"}
    for name in config.PROFILES:
        cfg = config.resolve(name)
        assert cfg.name == name
        assert config.describe(cfg) == f"profile={name}"


def test_paper_profile_has_the_papers_hyperparameters():
    # ../shared/paper_results/hyperparameters.csv and Section 5 of the paper
    cfg = config.resolve("paper")
    assert cfg.encoder == "bert-base-multilingual-cased"
    assert cfg.data.languages == ("bg", "de", "el", "es", "fr")
    t = cfg.train
    assert (t.batch_size, t.grad_accum, t.lr, t.epochs) == (24, 2, 5e-5, 1)
    assert cfg.data.pairs_per_language == 250_000
    assert (cfg.loss.eps, cfg.loss.cost, cfg.loss.lam) == (0.05, "euclidean", 1.0)
    assert cfg.embed == EmbedConfig(pooling="last", layer=-1)


def test_groups_are_the_option_objects_the_package_takes():
    cfg = config.resolve("cpu", loss_eps=0.1, pooling="mean", reach=2.0)
    assert isinstance(cfg.embed, EmbedConfig) and cfg.embed.pooling == "mean"
    assert isinstance(cfg.loss, LossConfig)
    assert (cfg.loss.eps, cfg.loss.reach, cfg.loss.tol) == (0.1, 2.0, 1e-3)
    assert cfg.train.max_steps == 20 and config.resolve("paper").train.max_steps is None


def test_overrides_are_coerced_to_the_field_type():
    cfg = config.resolve("smoke", eps="0.1", n_points="12", languages="de,fr,es", seed=None)
    assert cfg.demo.eps == 0.1 and isinstance(cfg.demo.eps, float)
    assert cfg.demo.n_points == 12 and isinstance(cfg.demo.n_points, int)
    assert cfg.data.languages == ("de", "fr", "es")
    assert cfg.seed == config.PROFILES["smoke"].seed  # None keeps the profile's value
    assert (
        config.describe(cfg) == "profile=smoke (eps=0.1, n_points=12, languages=('de', 'fr', 'es'))"
    )
    assert config.resolve("smoke", task_run="false").tasks.run is False
    assert config.resolve("smoke", seed=2.0).seed == 2
    assert config.resolve("cpu", max_steps="none").train.max_steps is None


def test_every_flat_name_maps_to_a_field_and_back():
    cfg = config.resolve("cpu")
    flat = config.parameters(cfg)
    assert set(flat) == set(config.parameter_names())
    assert flat["loss_eps"] == cfg.loss.eps and flat["result_seeds"] == [0, 1, 2]
    again = config.resolve("cpu", **flat)
    assert again == cfg
    groups = {f.name for f in dataclasses.fields(config.Profile)} - {"name", "description"}
    assert {s.group or s.field for s in config.PARAMETERS.values()} == groups


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "gpu"}, "unknown profile 'gpu'"),
        ({"epsilon": 0.1}, r"unknown parameter\(s\) \['epsilon'\]"),
        ({"n_points": "many"}, "n_points='many' is not a valid int"),
        ({"eps": 0}, "eps must be positive"),
        ({"seed": 1.5}, r"seed=1.5 is not a whole number"),
        ({"task_run": "ture"}, r"task_run='ture' is not a boolean"),
        ({"pooling": "foo"}, r"pooling must be one of \('last'"),
        ({"loss_eps": "nan"}, r"loss_eps='nan' must be a finite number"),
        ({"lam": -1}, r"lam must be >= 0"),
        ({"languages": "de,xx"}, r"languages has an unknown language code"),
        ({"xnli_languages": "en,ja"}, r"xnli_languages has an unknown language code"),
        ({"max_steps": -5}, r"max_steps must be >= 1"),
        ({"epochs": 0}, r"epochs must be >= 1"),
        ({"grad_accum": 0}, r"grad_accum must be >= 1"),
        ({"batch_size": "none"}, r"batch_size cannot be none"),
        ({"device": "gpu"}, r"device must be auto, cpu"),
        ({"task_data": "/no/such/dir"}, r"task_data must be hub, fixtures, eval-data"),
    ],
)
def test_bad_overrides_name_the_problem(kwargs, message):
    profile = kwargs.pop("profile", "smoke")
    with pytest.raises(ValueError, match=message):
        config.resolve(profile, **kwargs)
