"""Statistics engine for pricing experiments: pure computation, numpy/scipy only.

Plain numbers (per-arm counters) in, frozen dataclasses out. Modules:
arms (inputs, shared formulas), frequentist, bayesian, srm, sequential, cuped,
multiple_testing, power, elasticity, pricing.
"""

from app.analytics.arms import (
    CovariateArm,
    GaussianArm,
    Interval,
    Lift,
    MeanArm,
    ProportionArm,
)
from app.analytics.bayesian import (
    BayesianResult,
    GaussianPrior,
    beta_binomial_comparison,
    gaussian_comparison,
    prob_beta_greater,
)
from app.analytics.cuped import CupedAdjustment, cuped_adjust, cuped_t_test, cuped_theta
from app.analytics.elasticity import ElasticityFit, PriceArm, fit_elasticity
from app.analytics.frequentist import ComparisonResult, two_proportion_z_test, welch_t_test
from app.analytics.multiple_testing import (
    MultiArmResult,
    MultipleTestingResult,
    adjust_p_values,
    bonferroni_alpha,
    compare_arms,
)
from app.analytics.power import (
    SampleSizePlan,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from app.analytics.pricing import (
    ObjectiveChange,
    OptimalPrice,
    PriceRecommendation,
    apply_price_ending,
    objective_change,
    optimal_price,
    recommend_price,
)
from app.analytics.sequential import (
    SequentialResult,
    StopDecision,
    mixing_rho,
    running_p_values,
    sequential_comparison,
    sequential_test,
    should_stop,
)
from app.analytics.srm import SrmResult, sample_ratio_mismatch

__all__ = [
    "BayesianResult",
    "ComparisonResult",
    "CovariateArm",
    "CupedAdjustment",
    "ElasticityFit",
    "GaussianArm",
    "GaussianPrior",
    "Interval",
    "Lift",
    "MeanArm",
    "MultiArmResult",
    "MultipleTestingResult",
    "ObjectiveChange",
    "OptimalPrice",
    "PriceArm",
    "PriceRecommendation",
    "ProportionArm",
    "SampleSizePlan",
    "SequentialResult",
    "SrmResult",
    "StopDecision",
    "adjust_p_values",
    "apply_price_ending",
    "beta_binomial_comparison",
    "bonferroni_alpha",
    "compare_arms",
    "cuped_adjust",
    "cuped_t_test",
    "cuped_theta",
    "fit_elasticity",
    "gaussian_comparison",
    "mixing_rho",
    "objective_change",
    "optimal_price",
    "power_mean",
    "power_proportion",
    "prob_beta_greater",
    "recommend_price",
    "running_p_values",
    "sample_ratio_mismatch",
    "sample_size_mean",
    "sample_size_proportion",
    "sequential_comparison",
    "sequential_test",
    "should_stop",
    "two_proportion_z_test",
    "welch_t_test",
]
