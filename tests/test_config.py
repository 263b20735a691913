"""Run profiles: one place, overrides coerced and checked."""

import pytest

from wordot import config


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
    assert cfg.languages == ("bg", "de", "el", "es", "fr")
    assert (cfg.batch_size, cfg.grad_accum, cfg.lr, cfg.epochs) == (24, 2, 5e-5, 1)
    assert cfg.pairs_per_language == 250_000


def test_overrides_are_coerced_to_the_field_type():
    cfg = config.resolve("smoke", eps="0.1", n_points="12", languages="de,fr,es", seed=None)
    assert cfg.eps == 0.1 and isinstance(cfg.eps, float)
    assert cfg.n_points == 12 and isinstance(cfg.n_points, int)
    assert cfg.languages == ("de", "fr", "es")
    assert cfg.seed == config.PROFILES["smoke"].seed  # None keeps the profile's value
    assert (
        config.describe(cfg) == "profile=smoke (eps=0.1, n_points=12, languages=('de', 'fr', 'es'))"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "gpu"}, "unknown profile 'gpu'"),
        ({"epsilon": 0.1}, r"unknown parameter\(s\) \['epsilon'\]"),
        ({"n_points": "many"}, "n_points='many' is not a valid int"),
        ({"eps": 0}, "eps must be positive"),
    ],
)
def test_bad_overrides_name_the_problem(kwargs, message):
    profile = kwargs.pop("profile", "smoke")
    with pytest.raises(ValueError, match=message):
        config.resolve(profile, **kwargs)
