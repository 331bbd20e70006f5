"""The router's quality predictors: training learns prompt-dependent quality, the
artefact round-trips and refuses tampering, inference matches the fitted estimators,
is deterministic and omits models it lacks; the CLI refuses data with one model."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from switchyard.cli.main import main
from switchyard.learning.artefact import write_artefact
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.learning.features import default_spec
from switchyard.learning.heldout import split_records
from switchyard.learning.predictor import (
    ArtefactError,
    QualityPredictor,
    _BoostedStack,
    load_predictor,
)
from switchyard.learning.predictor_export import boosted_arrays
from switchyard.learning.predictor_training import (
    Candidate,
    TrainingConfig,
    TrainingError,
    featurize,
    fit_candidate,
    train_router_predictor,
)

HARD = ["integral", "eigenvalue", "theorem", "manifold", "topology", "lemma"]
EASY = ["apple", "dog", "sunny", "pizza", "garden", "holiday"]
FILLER = ["please", "tell", "me", "about", "the", "a", "what", "is", "of", "and"]


def synthetic_records(n: int, *, seed: int = 3, models: tuple[str, ...] = ("small", "large")):
    """Prompts about hard or easy topics: `small` answers easy ones well and hard ones
    badly, `large` answers both well (with label noise)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        hard = rng.random() < 0.5
        words = rng.choices(HARD if hard else EASY, k=3) + rng.choices(FILLER, k=6)
        rng.shuffle(words)
        prompt = " ".join(words) + "?"
        p_small = 0.15 if hard else 0.9
        qualities = {"small": p_small, "large": 0.85, "third": 0.5}
        answers = {
            m: ModelAnswer(
                quality=1.0 if rng.random() < qualities[m] else 0.0,
                input_tokens=len(words),
                output_tokens=10,
            )
            for m in models
        }
        records.append(
            DatasetRecord(
                id=f"r{i}",
                messages=(Message("user", prompt),),
                task_type="math" if i % 3 == 0 else "chat",
                answers=answers,
            )
        )
    return records


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DatasetRecord], dict]:
    records = synthetic_records(400)
    train, heldout = split_records(records, seed=11)
    result = train_router_predictor(train, heldout, config=TrainingConfig(seed=11))
    path = tmp_path_factory.mktemp("predictor") / "router.syqp"
    content_hash = write_artefact(path, result.manifest, result.arrays)
    return path, heldout, {**result.manifest, "content_hash": content_hash}


def test_training_learns_prompt_dependent_quality(trained) -> None:
    """Held-out AUC, computed here from predict() on prompts never fitted on, is well
    above chance for the model whose quality depends on the prompt."""
    path, heldout, _ = trained
    predictor = load_predictor(path)
    predicted = [predictor.predict(r.prompt, r.task_type, ["small"])["small"] for r in heldout]
    labels = [r.answers["small"].acceptable for r in heldout]
    assert roc_auc_score(labels, predicted) > 0.8
    # And the router's question: is small worse than large on hard prompts?
    hard = [r for r in heldout if any(w in r.prompt for w in HARD)]
    gaps = [
        (p := predictor.predict(r.prompt, r.task_type, ["small", "large"]))["large"] - p["small"]
        for r in hard
    ]
    assert np.mean(gaps) > 0.3


def test_manifest_reports_choice_and_heldout_metrics(trained) -> None:
    """Every model has its chosen estimator, validation losses per candidate and
    held-out log loss, Brier and AUC; the routing figures name weak and strong."""
    path, _, manifest = trained
    assert load_predictor(path).content_hash == manifest["content_hash"]
    for model in ("small", "large"):
        report = manifest["models"][model]
        assert report["estimator"] in ("logistic_regression", "hist_gradient_boosting")
        assert report["validation"]["chosen"] in report["validation"]["log_loss"]
        assert set(report["heldout"]) >= {"log_loss", "brier", "auc", "n"}
    assert manifest["training"]["train_records_sha256"].startswith("sha256:")
    routing = manifest["heldout_routing"]
    assert (routing["weak"], routing["strong"]) == ("small", "large")
    assert routing["apgr"] > 0.6


def test_predict_is_deterministic_and_omits_unknown_models(trained) -> None:
    """Same artefact, same prompt: the same numbers, across calls and loads; a model
    the artefact lacks is left out, and asking for none gives {}."""
    path, heldout, _ = trained
    first, second = load_predictor(path), load_predictor(path)
    assert isinstance(first, QualityPredictor) and first.models == {"small", "large"}
    for record in heldout[:20]:
        a = first.predict(record.prompt, record.task_type, ["small", "large", "gpt-9"])
        assert set(a) == {"small", "large"}
        assert a == first.predict(record.prompt, record.task_type, ["large", "small"])
        assert a == second.predict(record.prompt, record.task_type, ["small", "large"])
        assert all(0.0 < p < 1.0 for p in a.values())
    assert first.predict("hi", "chat", ["gpt-9"]) == {}
    assert first.predict("hi", "chat", []) == {}


def test_inference_equals_the_fitted_estimators() -> None:
    """The exported arrays give sklearn's own probabilities, for logistic regression and
    for gradient boosting."""
    spec = default_spec()
    records = synthetic_records(240, seed=5)
    x = featurize(spec, records)
    y = np.array([r.answers["small"].acceptable for r in records])
    logistic = fit_candidate(Candidate("logistic_regression", {"C": 1.0}), spec, x, y, seed=1)
    from switchyard.learning.predictor import _LogisticStack
    from switchyard.learning.predictor_export import logistic_arrays

    stack = _LogisticStack(logistic_arrays([logistic.logistic]), spec.n_hashed)
    expected = logistic.probabilities(x)
    for i in range(len(records)):
        row = x.rows(np.array([i]))
        z = stack.logits(row.hashed.indices, row.hashed.data, row.dense[0])[0]
        assert 1 / (1 + np.exp(-z)) == pytest.approx(expected[i], abs=1e-9)

    boosted = HistGradientBoostingClassifier(max_iter=40, max_depth=4, random_state=0)
    boosted.fit(x.dense, y)
    arrays, depth = boosted_arrays([boosted, boosted])
    trees = _BoostedStack(arrays, depth, spec.n_dense)
    expected = boosted.predict_proba(x.dense)[:, 1]
    for i in range(len(records)):
        z = trees.logits(x.dense[i])
        assert z[0] == z[1]
        assert 1 / (1 + np.exp(-z[0])) == pytest.approx(expected[i], abs=1e-9)


def test_predict_equals_sklearns_predict_proba(trained) -> None:
    """End to end: predict() (numpy over the exported weights) gives the probabilities
    of scikit-learn's own LogisticRegression refitted as training fits the chosen
    candidate, on prompts it never saw, within 1e-9."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from switchyard.learning.predictor_training import dense_scaling

    path, _, manifest = trained
    records = synthetic_records(400)
    train, held = split_records(records, seed=11)
    spec = default_spec()
    x, x_held = featurize(spec, train), featurize(spec, held)
    predictor = load_predictor(path)
    checked = 0
    for model in ("small", "large"):
        report = manifest["models"][model]
        if report["estimator"] != "logistic_regression" or report["params"].get("constant"):
            continue
        y = np.array([r.answers[model].acceptable for r in train])
        used = (
            np.empty(0, np.int64)
            if report["params"].get("dense_only")
            else np.unique(x.hashed.indices)
        )
        scaling = dense_scaling(spec, x.dense)

        def design(m, used=used, scaling=scaling):
            return sp.hstack(
                [m.hashed[:, used], sp.csr_matrix(scaling.apply(m.dense))], format="csr"
            )

        estimator = LogisticRegression(C=report["params"]["C"], max_iter=3000)
        expected = estimator.fit(design(x), y).predict_proba(design(x_held))[:, 1]
        got = [predictor.predict(r.prompt, r.task_type, [model])[model] for r in held]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        checked += 1
    assert checked, "no logistic model to compare"


def test_repeated_prompts_are_featurised_once(trained) -> None:
    """A prompt seen again (Plan() then Route(), a retry) is answered from the recent
    predictions, equal to a fresh predictor's; a new prompt is featurised."""
    path, heldout, _ = trained
    predictor, fresh = load_predictor(path), load_predictor(path)
    calls = []
    featurize_once = predictor._featurizer.features

    def counting(prompt: str, task_type: str):
        calls.append(prompt)
        return featurize_once(prompt, task_type)

    predictor._featurizer.features = counting  # type: ignore[method-assign]
    try:
        for record in heldout[:10]:
            first = predictor.predict(record.prompt, record.task_type, ["small", "large"])
            again = predictor.predict(record.prompt, record.task_type, ["large"])
            assert again == {"large": first["large"]}
            assert first == fresh.predict(record.prompt, record.task_type, ["small", "large"])
        assert len(calls) == len({(r.prompt, r.task_type) for r in heldout[:10]})
        predictor.predict(heldout[0].prompt, "code", ["small"])  # another task type
        assert len(calls) == len({(r.prompt, r.task_type) for r in heldout[:10]}) + 1
    finally:
        predictor._featurizer.features = featurize_once  # type: ignore[method-assign]


def _rewrite_member(path: Path, name: str, change) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {m: archive.read(m) for m in archive.namelist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)


def test_tampered_artefact_is_refused(trained, tmp_path: Path) -> None:
    """A changed weight or a changed manifest breaks the content hash: refused."""
    path, _, _ = trained

    def bump_bias(data: bytes) -> bytes:
        array = np.load(io.BytesIO(data))
        buffer = io.BytesIO()
        np.save(buffer, array + 0.5)
        return buffer.getvalue()

    weights = tmp_path / "weights.syqp"
    weights.write_bytes(path.read_bytes())
    with zipfile.ZipFile(weights) as archive:
        names = archive.namelist()
    _rewrite_member(
        weights, "lr_bias.npy" if "lr_bias.npy" in names else "gb_baseline.npy", bump_bias
    )
    with pytest.raises(ArtefactError, match="content hash mismatch"):
        load_predictor(weights)

    label = tmp_path / "manifest.syqp"
    label.write_bytes(path.read_bytes())

    def rename_model(data: bytes) -> bytes:
        document = json.loads(data)
        document["models"]["small"]["heldout"]["auc"] = 0.99
        return json.dumps(document).encode()

    _rewrite_member(label, "manifest.json", rename_model)
    with pytest.raises(ArtefactError, match="content hash mismatch"):
        load_predictor(label)


def test_artefact_errors_say_what_is_wrong(trained, tmp_path: Path) -> None:
    """Missing, not a zip, another format, or not the expected hash: ArtefactError."""
    path, _, manifest = trained
    with pytest.raises(ArtefactError, match="does not exist"):
        load_predictor(tmp_path / "missing.syqp")
    junk = tmp_path / "junk.syqp"
    junk.write_text("not a zip")
    with pytest.raises(ArtefactError, match="cannot read"):
        load_predictor(junk)
    other = tmp_path / "other.syqp"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something/9"}))
    with pytest.raises(ArtefactError, match=r"not a switchyard\.quality_predictor/1"):
        load_predictor(other)
    assert load_predictor(path, expected_hash=manifest["content_hash"]).models
    # A policy pins the hash as bare hex (predictor.sha256): the same artefact.
    bare = manifest["content_hash"].removeprefix("sha256:")
    assert load_predictor(path, expected_hash=bare).content_hash == manifest["content_hash"]
    with pytest.raises(ArtefactError, match="was expected"):
        load_predictor(path, expected_hash="sha256:" + "0" * 64)


def test_fewer_than_two_models_is_refused(tmp_path: Path, capsys) -> None:
    """Training needs answers from two models: the library raises, the CLI exits 1
    with a message that says so, and writes nothing."""
    records = synthetic_records(40, models=("small",))
    with pytest.raises(TrainingError, match="at least two"):
        train_router_predictor(records, [])
    dataset = tmp_path / "one.jsonl"
    write_dataset(dataset, records)
    out = tmp_path / "router.syqp"
    assert main(["train", "router", "--dataset", str(dataset), "--out", str(out)]) == 1
    assert "needs answers from at least two" in capsys.readouterr().err
    assert not out.exists()


def test_cli_trains_and_reports(tmp_path: Path, capsys) -> None:
    """`switchyard train router` writes a loadable artefact and prints, per model, the
    chosen estimator and held-out figures, and the routing APGR."""
    dataset, held = tmp_path / "train.jsonl", tmp_path / "held.jsonl"
    records = synthetic_records(240, models=("small", "large", "third"))
    write_dataset(dataset, records[:160])
    write_dataset(held, records[160:])
    out = tmp_path / "router.syqp"
    code = main(
        ["train", "router", "--dataset", str(dataset), "--held-out", str(held), "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    predictor = load_predictor(out)
    assert predictor.content_hash in printed
    assert predictor.models == {"small", "large", "third"}
    assert "APGR" in printed and "third" in printed
    assert predictor.manifest["training"]["held_out_sha256"].startswith("sha256:")
    missing = tmp_path / "nope.jsonl"
    assert main(["train", "router", "--dataset", str(missing), "--out", str(out)]) == 2


def test_a_tiny_dataset_with_one_bad_answer_trains() -> None:
    """40 prompts where one model has a single unacceptable answer (MT Bench's shape):
    every candidate, boosting included, fits; boosting's early stopping would need the
    rarer label on both sides of its hold-out and made sklearn raise before."""
    records = synthetic_records(40)
    records = [
        dataclasses.replace(
            r,
            answers={
                **r.answers,
                "large": dataclasses.replace(r.answers["large"], quality=0.0 if i == 0 else 1.0),
            },
        )
        for i, r in enumerate(records)
    ]
    result = train_router_predictor(records, [])
    assert set(result.manifest["models"]) == {"small", "large"}
