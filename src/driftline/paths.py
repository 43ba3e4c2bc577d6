"""Where each pipeline's artifacts live. The compiler and the stages both read this one map."""

from __future__ import annotations

import re
from dataclasses import dataclass

SPLITS = ("train", "valid", "test")
_ARTIFACT_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_/-]*[a-zA-Z0-9])?$")  # GTO's and DVC's artifact names, 2+ chars


@dataclass(frozen=True)
class PipelinePaths:
    """Project-relative POSIX paths of one pipeline's artifacts."""

    pipeline: str

    @property
    def data(self) -> str:
        return f"data/{self.pipeline}"

    @property
    def models(self) -> str:
        return f"models/{self.pipeline}"

    @property
    def reports(self) -> str:
        return f"reports/{self.pipeline}"

    # ingest
    @property
    def raw(self) -> str:
        return f"{self.data}/raw.parquet"

    @property
    def incoming(self) -> str:
        """Where new batches land (`driftline simulate`, a cron job, a data drop)."""
        return f"{self.data}/incoming"

    @property
    def trigger(self) -> str:
        """The batches absorbed into training; its bytes change only when the drift policy fires."""
        return f"{self.data}/trigger.json"

    # monitor
    @property
    def monitor_state(self) -> str:
        return f"{self.data}/monitor_state.json"

    @property
    def drift_json(self) -> str:
        return f"{self.reports}/drift.json"

    @property
    def drift_html(self) -> str:
        return f"{self.reports}/drift.html"

    @property
    def drift_history(self) -> str:
        """One row per batch (and chunk), signal and column, appended by every monitor run."""
        return f"{self.reports}/drift_history.csv"

    @property
    def retired(self) -> str:
        """Batches taken out of the loop with `driftline batch retire`."""
        return f"{self.data}/retired"

    # promote
    @property
    def promotion(self) -> str:
        return f"{self.reports}/promotion.json"

    # validate
    @property
    def validated(self) -> str:
        return f"{self.data}/validated.parquet"

    @property
    def quarantine(self) -> str:
        return f"{self.data}/quarantine.parquet"

    @property
    def validation_report(self) -> str:
        return f"{self.reports}/validation.json"

    # label
    @property
    def labelled(self) -> str:
        return f"{self.data}/labelled.parquet"

    @property
    def unlabelled(self) -> str:
        return f"{self.data}/unlabelled.parquet"

    # split
    @property
    def split_dir(self) -> str:
        return f"{self.data}/split"

    def split(self, name: str) -> str:
        return f"{self.split_dir}/{name}.parquet"

    # featurize
    @property
    def features_dir(self) -> str:
        return f"{self.data}/features"

    def features(self, name: str) -> str:
        return f"{self.features_dir}/{name}.parquet"

    @property
    def fitted_features(self) -> str:
        return f"{self.models}/features.json"

    # train
    @property
    def model(self) -> str:
        return f"{self.models}/model.txt"

    @property
    def artifact(self) -> str:
        """The model's name in dvc.yaml `artifacts:` and in GTO tags (`credit@v0.0.3`, `credit#prod#1`).

        The pipeline's own name when GTO accepts it; otherwise (one character, or starting or ending
        with `_`/`-`) that name trimmed, plus `-model`.
        """
        if len(self.pipeline) >= 2 and _ARTIFACT_NAME.match(self.pipeline):
            return self.pipeline
        return f"{self.pipeline.strip('_-') or 'pipeline'}-model"

    @property
    def model_meta(self) -> str:
        return f"{self.models}/model.json"

    @property
    def live(self) -> str:
        """DVCLive's folder for the train stage, written round by round while LightGBM trains."""
        return f"{self.reports}/live"

    @property
    def train_summary(self) -> str:
        """The training summary (DVCLive's metrics.json): metrics at the best iteration, rows, threads, time."""
        return f"{self.live}/metrics.json"

    @property
    def training_curves(self) -> str:
        """DVCLive's per-round curves: `<split>/<LightGBM metric>.tsv` (columns step, metric), split train or valid."""
        return f"{self.live}/plots/metrics"

    @property
    def feature_importance(self) -> str:
        return f"{self.reports}/plots/feature_importance.csv"

    # evaluate
    @property
    def metrics(self) -> str:
        return f"{self.reports}/metrics.json"

    @property
    def predictions(self) -> str:
        return f"{self.data}/predictions/test.parquet"

    def plot(self, name: str) -> str:
        return f"{self.reports}/plots/{name}.csv"
