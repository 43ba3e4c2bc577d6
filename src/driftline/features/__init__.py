"""Feature transforms on columns: fit on the train split, the model matrix anywhere (see `pipeline`)."""

from driftline.features.pipeline import (
    FittedFeatures,
    apply_features,
    features_frame,
    featurized_matrix,
    fit_features,
    model_matrix,
)

__all__ = ["FittedFeatures", "apply_features", "features_frame", "featurized_matrix", "fit_features", "model_matrix"]
